/**
 * The backend names, one vocabulary for every option, result, env var and CLI (DESIGN.md
 * "One vocabulary everywhere"): 'auto' | 'native' | 'ts', plus 'cuda' where a GPU kernel
 * exists. 'cpu' is read as a deprecated alias of 'native'. This file imports nothing from
 * lib/backend.ts, which uses it to read ULTRA_PERF_BACKEND before any addon is loaded.
 */
import { invalidType, invalidValue } from '../errors.js';
import { listOf } from './options.js';

/** An implementation a result can report. */
export type Backend = 'native' | 'ts' | 'cuda';
/** What an option, env var or CLI flag may ask for. */
export type BackendChoice = 'auto' | Backend;
/**
 * What the `backend` options accept: a choice, or 'cpu', the deprecated alias of 'native'
 * (a DeprecationWarning, code ULTRA_PERF_DEP_BACKEND_CPU, once per process).
 */
export type BackendOption<C extends BackendChoice = BackendChoice> = C | ('native' extends C ? 'cpu' : never);

/** The DeprecationWarning code of the 'cpu' alias. */
export const kCpuAliasWarningCode = 'ULTRA_PERF_DEP_BACKEND_CPU';

let warnedCpuAlias = false;

function warnCpuAlias(argument: string): void {
  if (warnedCpuAlias) return;
  warnedCpuAlias = true;
  process.emitWarning(`${argument} 'cpu' is deprecated; use 'native' (the name results report). 'cpu' is read as 'native'.`, {
    type: 'DeprecationWarning',
    code: kCpuAliasWarningCode,
  });
}

/**
 * The backend asked for, in the one vocabulary: `value` must be one of `accepted` ('cpu'
 * reads as 'native' when 'native' is accepted). Anything else is a TypeError with the same
 * wording everywhere, "Expected 'auto', 'native' or 'ts' for <argument> but received <value>"
 * (code ERR_INVALID_ARG_VALUE for a string, ERR_INVALID_ARG_TYPE for anything else).
 */
export function backendName(value: unknown, argument: string, accepted: readonly BackendChoice[]): BackendChoice {
  if (typeof value === 'string') {
    if ((accepted as readonly string[]).includes(value)) return value as BackendChoice;
    if (value === 'cpu' && accepted.includes('native')) {
      warnCpuAlias(argument);
      return 'native';
    }
    throw invalidValue(argument, listOf(accepted), value);
  }
  throw invalidType(argument, listOf(accepted), value);
}
