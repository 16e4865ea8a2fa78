#!/usr/bin/env bash
# Device checks: run on a machine with an NVIDIA GPU (`npm run test:gpu`). They fail,
# rather than skip, when no device is usable, so a green run means the GPU was used.
set -euo pipefail
cd "$(dirname "$0")/../.."
node dist/cli.js status
exec npx vitest run --config test/gpu/vitest.config.ts
