/**
 * The lock guarding shared buddy and ring state: one int32 word, the protocol of
 * cpp/memory/lock.hpp. 0 free, 1 held, 2 held and a JS thread may sleep in
 * Atomics.wait on it. JS unlocks with exchange(0) and notifies when it saw 2; C++
 * cannot notify JS waiters, so they sleep at most kWaitMs before looking again.
 *
 * Every wait is bounded: a word still held after `timeoutMs` (a thread died inside a
 * call, or something wrote into the buffer) gives Status.lockTimeout, and a word that
 * is not 0, 1 or 2 gives Status.corrupt, instead of waiting forever.
 */
import { Status } from './layout.js';

const kSpins = 100;
const kWaitMs = 1;

/**
 * Takes the lock at i32[index]: Status.ok (0) when taken, else Status.lockTimeout or
 * Status.corrupt (not taken). Only for Int32Arrays over a SharedArrayBuffer.
 */
export function lockWord(i32: Int32Array, index: number, timeoutMs: number): number {
  if (Atomics.compareExchange(i32, index, 0, 1) === 0) return Status.ok;
  return lockSlow(i32, index, timeoutMs);
}

function lockSlow(i32: Int32Array, index: number, timeoutMs: number): number {
  for (let spin = 0; spin < kSpins; spin++) {
    const seen = Atomics.load(i32, index);
    if (seen < 0 || seen > 2) return Status.corrupt;
    if (seen === 0 && Atomics.compareExchange(i32, index, 0, 1) === 0) return Status.ok;
  }
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const seen = Atomics.load(i32, index);
    if (seen < 0 || seen > 2) return Status.corrupt;
    // Mark the word contended so the JS holder wakes us; a C++ holder will not.
    if (Atomics.compareExchange(i32, index, seen, 2) === seen && seen === 0) return Status.ok;
    if (performance.now() >= deadline) return Status.lockTimeout;
    Atomics.wait(i32, index, 2, kWaitMs);
  }
}

export function unlockWord(i32: Int32Array, index: number): void {
  if (Atomics.exchange(i32, index, 0) === 2) Atomics.notify(i32, index, 1);
}
