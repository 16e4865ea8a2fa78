/**
 * The other side of bench/queue's cross-thread workloads. One role per worker, many runs:
 * the main thread posts { run } with a fresh buffer, the worker answers 'ready', waits on
 * the start word, does the run and posts what it measured. Times are absolute
 * process.hrtime.bigint() values (one clock for every thread of the process).
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';

import { MpmcQueue, SpscQueue, type QueueBackend, type SharedQueue } from '../../lib/index.js';

export type Role =
  | 'producer'
  | 'consumer'
  | 'echo'
  | 'port-producer'
  | 'port-consumer'
  | 'port-echo';

export interface WorkerConfig {
  role: Role;
  /** Start word: [0] = the run the main thread released. */
  control: SharedArrayBuffer;
  kind?: 'spsc' | 'mpmc';
  backend?: QueueBackend;
  spinTries?: number;
  /** Messages per pushBatch/popBatch; 1 = single push/pop. */
  batch?: number;
  messageBytes?: number;
  /** Echo: spin on tryPop/tryPush instead of the blocking calls. */
  spin?: boolean;
  port?: MessagePort;
}

export interface RunMessage {
  run: number;
  buffer?: SharedArrayBuffer;
  /** SPSC/MPMC pair for echo. */
  pong?: SharedArrayBuffer;
  /** Messages this worker pushes (producers) or expects (port consumer). */
  count?: number;
  /** Producers still running, shared by the producers of a run; the last one closes the queue. */
  producersLeft?: SharedArrayBuffer;
}

const config = workerData as WorkerConfig;
const control = new Int32Array(config.control);
const messageBytes = config.messageBytes ?? 64;
const batch = config.batch ?? 1;

function nowAbs(): number {
  return Number(process.hrtime.bigint());
}

function attach(buffer: SharedArrayBuffer): SharedQueue {
  // spinTries undefined: the library default.
  const options = { backend: config.backend ?? 'auto', spinTries: config.spinTries };
  return config.kind === 'mpmc' ? MpmcQueue.attach(buffer, options) : SpscQueue.attach(buffer, options);
}

function waitForStart(run: number): void {
  while (Atomics.load(control, 0) < run) Atomics.wait(control, 0, run - 1, 1000);
}

const message = new Uint8Array(messageBytes).fill(0x5a);
const packed = new Uint8Array(messageBytes * batch).fill(0x5a);
const lengths = new Uint32Array(batch).fill(messageBytes);
const out = new Uint8Array(messageBytes * batch);

function produce(q: SharedQueue, count: number): void {
  if (batch === 1) {
    for (let i = 0; i < count; i++) q.push(message);
    return;
  }
  // Every message is the same, so any prefix of the packed batch is the next k messages.
  for (let left = count; left > 0; ) {
    const pushed = q.pushBatch(packed, lengths, Math.min(batch, left));
    left -= pushed;
    if (pushed === 0) {
      q.push(message);
      left--;
    }
  }
}

function consume(q: SharedQueue): number {
  let received = 0;
  if (batch === 1) {
    while (q.pop(out) >= 0) received++;
    return received;
  }
  for (;;) {
    const n = q.popBatch(out, lengths);
    if (n > 0) {
      received += n;
      continue;
    }
    if (q.pop(out) < 0) return received;
    received++;
  }
}

function echo(ping: SharedQueue, pong: SharedQueue): number {
  const buf = new Uint8Array(ping.slotBytes);
  let echoed = 0;
  for (;;) {
    let n: number;
    if (config.spin) {
      while ((n = ping.tryPop(buf)) < 0);
    } else {
      n = ping.pop(buf);
    }
    if (n === 0) return echoed;
    if (config.spin) {
      while (!pong.tryPush(buf));
    } else {
      pong.push(buf);
    }
    echoed++;
  }
}

const port = config.port;

if (config.role === 'port-echo') {
  port!.on('message', (m: unknown) => port!.postMessage(m));
  parentPort!.postMessage({ ready: 0 });
} else if (config.role === 'port-consumer') {
  let expected = 0;
  let received = 0;
  const perMessage = batch;
  port!.on('message', () => {
    received += perMessage;
    if (received >= expected) parentPort!.postMessage({ done: true, endNs: nowAbs(), received });
  });
  parentPort!.on('message', (m: RunMessage) => {
    expected = m.count!;
    received = 0;
    parentPort!.postMessage({ ready: m.run });
  });
} else {
  parentPort!.on('message', (m: RunMessage) => {
    parentPort!.postMessage({ ready: m.run });
    waitForStart(m.run);
    switch (config.role) {
      case 'producer': {
        const q = attach(m.buffer!);
        produce(q, m.count!);
        if (Atomics.sub(new Int32Array(m.producersLeft!), 0, 1) === 1) q.close();
        parentPort!.postMessage({ done: true, endNs: nowAbs() });
        break;
      }
      case 'consumer': {
        const received = consume(attach(m.buffer!));
        parentPort!.postMessage({ done: true, endNs: nowAbs(), received });
        break;
      }
      case 'echo': {
        const echoed = echo(attach(m.buffer!), attach(m.pong!));
        parentPort!.postMessage({ done: true, echoed });
        break;
      }
      case 'port-producer': {
        const count = m.count!;
        if (batch === 1) {
          for (let i = 0; i < count; i++) port!.postMessage(message);
        } else {
          for (let i = 0; i < count; i += batch) port!.postMessage(packed);
        }
        parentPort!.postMessage({ done: true, endNs: nowAbs() });
        break;
      }
    }
  });
}
