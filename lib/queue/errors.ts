import { UltraPerfError } from '../errors.js';

/**
 * A push on a queue that close() has closed. Consumers may still drain it.
 * @example
 * try { queue.push(bytes); } catch (err) { if (err instanceof QueueClosedError) stopProducing(); else throw err; }
 */
export class QueueClosedError extends UltraPerfError {
  constructor(message = 'The queue is closed: push, tryPush and pushBatch fail after close(); consumers may still drain it') {
    super('ERR_ULTRA_PERF_QUEUE_CLOSED', message);
  }
}

/**
 * A slot whose stored length is larger than slotBytes: something other than this
 * library wrote into the queue's SharedArrayBuffer. Nothing is copied out of it.
 * @example
 * try { queue.tryPop(out); } catch (err) { if (err instanceof QueueCorruptError) alarm(err.message); throw err; }
 */
export class QueueCorruptError extends UltraPerfError {
  constructor(message: string) {
    super('ERR_ULTRA_PERF_QUEUE_CORRUPT', message);
  }
}
