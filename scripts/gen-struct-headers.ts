/**
 * Writes the C++ header of every struct schema the library ships (lib/net/struct-schemas.ts)
 * to cpp/net/struct_<name>.hpp. `--check` writes nothing and exits 1 when a header is stale.
 * test/struct-header.test.ts runs the same comparison.
 *
 *     npx tsx scripts/gen-struct-headers.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { structHeader, structHeaderFileName } from '../lib/net/struct-header.js';
import * as schemas from '../lib/net/struct-schemas.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
let stale = 0;
for (const schema of Object.values(schemas)) {
  const path = join(root, 'cpp', 'net', structHeaderFileName(schema));
  const text = structHeader(schema);
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    // missing: written below, or stale under --check
  }
  if (current === text) continue;
  if (check) {
    console.error(`stale: ${path}`);
    stale++;
  } else {
    writeFileSync(path, text);
    console.log(`wrote ${path}`);
  }
}
if (stale > 0) process.exit(1);
