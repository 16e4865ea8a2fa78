/**
 * Runs one suite in this process: `node --import tsx bench/lib/child.ts <suite> [--quick]`.
 * bench/run.ts starts one of these per suite, so suites never share a JIT or a heap.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { benchRoot, runSuite, type SuiteSpec } from './suite.js';

const [name, ...flags] = process.argv.slice(2);
if (name === undefined) throw new Error('usage: bench/lib/child.ts <suite> [--quick]');
const file = join(benchRoot, name, 'index.ts');
if (!existsSync(file)) throw new Error(`no suite at ${file}`);
const mod = (await import(pathToFileURL(file).href)) as { default?: SuiteSpec };
if (mod.default === undefined) throw new Error(`${file} has no default export (export default defineSuite({...}))`);
await runSuite(mod.default, { quick: flags.includes('--quick') });
