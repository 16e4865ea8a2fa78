import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** What backendInfo().cpu reports. */
export interface CpuInfo {
  /** Marketing name, e.g. "AMD EPYC 9454". */
  model: string;
  /** Online logical CPUs. */
  cores: number;
  /** SIMD and bit-manipulation features this library may use, in kFeatureNames order. */
  features: string[];
}

/**
 * Features reported by both backends, in this order. The C++ side
 * (cpp/system/cpu_info.cc) uses __builtin_cpu_supports; this side reads
 * /proc/cpuinfo flags, whose spelling differs only for sse4.2.
 */
export const kFeatureNames = [
  'sse2', 'sse4.2', 'popcnt', 'avx', 'avx2', 'fma', 'bmi2',
  'avx512f', 'avx512dq', 'avx512bw', 'avx512vl', 'neon',
] as const;

const kProcFlag: Record<string, string> = { 'sse4.2': 'sse4_2', neon: 'asimd' };

/** CPU identification without the addon: /proc/cpuinfo on Linux, os.cpus() elsewhere. */
export function tsCpuInfo(): CpuInfo {
  const list = cpus();
  let model = list[0]?.model?.trim() ?? '';
  const features: string[] = [];
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // Not Linux: model from os.cpus(), features unknown.
  }
  const flagsLine = /^(?:flags|Features)\s*:\s*(.*)$/m.exec(text);
  if (flagsLine) {
    const flags = new Set(flagsLine[1]!.split(/\s+/));
    for (const name of kFeatureNames) if (flags.has(kProcFlag[name] ?? name)) features.push(name);
  }
  if (!model) model = /^(?:model name|Hardware)\s*:\s*(.*)$/m.exec(text)?.[1]?.trim() ?? 'unknown';
  return { model, cores: Math.max(1, list.length), features };
}
