/**
 * The lock guarding shared buddy and ring state: one int32 word, the protocol of
 * cpp/memory/lock.hpp. 0 free, 1 held, 2 held and a JS thread may sleep in
 * Atomics.wait on it. JS unlocks with exchange(0) and notifies when it saw 2; C++
 * cannot notify JS waiters, so they sleep at most kWaitMs before looking again.
 */

const kSpins = 100;
const kWaitMs = 1;

/** Takes the lock at i32[index]. Only for Int32Arrays over a SharedArrayBuffer. */
export function lockWord(i32: Int32Array, index: number): void {
  if (Atomics.compareExchange(i32, index, 0, 1) !== 0) lockSlow(i32, index);
}

function lockSlow(i32: Int32Array, index: number): void {
  for (let spin = 0; spin < kSpins; spin++) {
    if (Atomics.load(i32, index) === 0 && Atomics.compareExchange(i32, index, 0, 1) === 0) return;
  }
  // Mark the word contended so the JS holder wakes us; a C++ holder will not.
  while (Atomics.exchange(i32, index, 2) !== 0) Atomics.wait(i32, index, 2, kWaitMs);
}

export function unlockWord(i32: Int32Array, index: number): void {
  if (Atomics.exchange(i32, index, 0) === 2) Atomics.notify(i32, index, 1);
}
