// The native surface, read from the one typed declaration of it (lib/addon-types.ts) with
// the TypeScript compiler API: every method of CpuAddon (with the interfaces it extends),
// of the handles its functions return (L2Native, EngineNative, MboNative) and of CudaAddon, with
// each parameter's name and declared type. A binding added to addon-types.ts shows up
// here without anyone editing the harness, and the harness refuses to run until it has
// an entry for it (entries.mjs, checked by surface-check in run.mjs).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, '..', '..');
const ts = createRequire(join(root, 'package.json'))('typescript');

/** Interface name -> { extends: string[], methods: Method[], props: string[] } */
function readInterfaces() {
  const file = join(root, 'lib', 'addon-types.ts');
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out = new Map();
  for (const st of sf.statements) {
    if (!ts.isInterfaceDeclaration(st)) continue;
    const ext = [];
    for (const h of st.heritageClauses ?? []) for (const t of h.types) ext.push(t.expression.getText(sf));
    const methods = [];
    const props = [];
    for (const m of st.members) {
      const name = m.name?.getText(sf);
      if (name === undefined) continue;
      if (ts.isMethodSignature(m)) {
        methods.push({
          name,
          params: m.parameters.map((p) => ({
            name: p.name.getText(sf),
            type: p.type ? p.type.getText(sf) : 'unknown',
            optional: p.questionToken !== undefined,
          })),
          returns: m.type ? m.type.getText(sf) : 'unknown',
        });
      } else if (ts.isPropertySignature(m)) {
        const type = m.type ? m.type.getText(sf) : 'unknown';
        // `varHistorical: RiskAddon['varHistorical']` declares a method by reference.
        const ref = /^(\w+)\['(\w+)'\]$/.exec(type);
        if (ref) methods.push({ name, ref: { iface: ref[1], member: ref[2] } });
        else props.push(name);
      }
    }
    out.set(st.name.text, { extends: ext, methods, props });
  }
  return out;
}

function flatten(ifaces, name, seen = new Set()) {
  if (seen.has(name)) return { methods: [], props: [] };
  seen.add(name);
  const i = ifaces.get(name);
  if (!i) throw new Error(`addon-types.ts: interface ${name} not found`);
  const methods = [];
  const props = [...i.props];
  for (const e of i.extends) {
    const sub = flatten(ifaces, e, seen);
    methods.push(...sub.methods);
    props.push(...sub.props);
  }
  for (const m of i.methods) {
    if (m.ref) {
      const target = ifaces.get(m.ref.iface)?.methods.find((x) => x.name === m.ref.member);
      if (!target) throw new Error(`addon-types.ts: ${name}.${m.name} refers to missing ${m.ref.iface}.${m.ref.member}`);
      methods.push({ ...target, name: m.name });
    } else methods.push(m);
  }
  return { methods, props };
}

/**
 * { cpu, cuda }: lists of { key, name, owner, params, returns, async }. `key` is the
 * harness entry name: the export name for addon functions, "L2Native.setBid" for a
 * handle's method, "cuda.probe" for the GPU addon.
 */
export function readSurface() {
  const ifaces = readInterfaces();
  const cpu = [];
  const handles = new Set();
  const addon = flatten(ifaces, 'CpuAddon');
  for (const m of addon.methods) {
    cpu.push({ key: m.name, name: m.name, owner: 'CpuAddon', params: m.params, returns: m.returns, async: /^Promise</.test(m.returns) });
    if (ifaces.has(m.returns) && ifaces.get(m.returns).methods.length > 0) handles.add(m.returns);
  }
  for (const h of handles) {
    for (const m of flatten(ifaces, h).methods) {
      cpu.push({ key: `${h}.${m.name}`, name: m.name, owner: h, params: m.params, returns: m.returns, async: /^Promise</.test(m.returns) });
    }
  }
  const cuda = flatten(ifaces, 'CudaAddon').methods.map((m) => ({
    key: `cuda.${m.name}`,
    name: m.name,
    owner: 'CudaAddon',
    params: m.params,
    returns: m.returns,
    async: /^Promise</.test(m.returns),
  }));
  return { cpu, cuda, cpuProps: addon.props };
}

/**
 * Surface check: addon-types.ts, the addon's real exports (and its handles' methods) and
 * the harness's table (`entries`) agree; returns what does not, in words.
 */
export function checkSurface(addon, surface, entries) {
  const problems = [];
  const declared = new Set(surface.cpu.map((s) => s.key));
  const exported = new Set(Object.keys(addon).filter((k) => typeof addon[k] === 'function'));
  const l2 = addon.orderbookL2Create(1, 100, 1, 1);
  const engine = addon.orderbookEngineCreate(1, 100, 1, 1, 0);
  const mbo = addon.orderbookMboCreate(1, 10000, 1, 1, false, 16);
  for (const [h, obj] of [['L2Native', l2], ['EngineNative', engine], ['MboNative', mbo]]) {
    for (const k of Object.keys(obj)) if (typeof obj[k] === 'function') exported.add(`${h}.${k}`);
  }
  for (const k of exported) if (!declared.has(k)) problems.push(`the addon exports ${k}, which lib/addon-types.ts does not declare`);
  for (const k of declared) if (!exported.has(k)) problems.push(`lib/addon-types.ts declares ${k}, which the addon does not export`);
  const cuda = new Set(surface.cuda.map((s) => s.key));
  for (const k of [...declared, ...cuda]) if (!entries[k]) problems.push(`the harness has no entry for ${k} (test/fuzz/entries.mjs)`);
  for (const k of Object.keys(entries)) if (!declared.has(k) && !cuda.has(k)) problems.push(`the harness has an entry for ${k}, which lib/addon-types.ts does not declare`);
  for (const p of surface.cpuProps) if (!(p in addon)) problems.push(`lib/addon-types.ts declares property ${p}, which the addon lacks`);
  return problems;
}
