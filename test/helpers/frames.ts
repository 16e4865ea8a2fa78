// Byte streams of lib/net TCP frames for the frame tests and the frame decoder's fuzz target.
import { kDataHeaderBytes, writeDataHeader } from '../../lib/net/frame.js';

/** One DATA frame carrying `message`, acknowledging `ack` messages. */
export function dataFrame(message: Uint8Array, ack: number): Uint8Array {
  const out = new Uint8Array(kDataHeaderBytes + message.length);
  out.set(message, writeDataHeader(out, 0, message.length, ack));
  return out;
}

/** `parts` one after another in a new array. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
