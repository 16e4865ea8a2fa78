import { checkBatch, spscPopBatch, spscPushBatch, spscTryPop, spscTryPush } from './kernel.js';
import { geometryFromOptions, readGeometry, Status, writeHeader, type Geometry } from './layout.js';
import {
  objectOptions,
  checkBytes,
  checkOut,
  SharedQueue,
  type ObjectOptions,
  throwBadBatch,
  type QueueAttachOptions,
  type QueueCreateOptions,
} from './queue.js';

// A deliberate twin of MpmcQueue (mpmc.ts): the same eight methods over the other kernel set. Each
// class calls its own kernels directly, so every call site stays monomorphic and V8
// inlines the kernel; one shared method would dispatch over both kinds on the hot path.
/**
 * A bounded single-producer single-consumer queue of byte messages in a
 * SharedArrayBuffer, for passing messages between worker_threads (and native threads)
 * with no copying beyond one memcpy in and one out. One thread pushes, one pops; each
 * keeps a cached copy of the other's index (rigtorp's SPSCQueue.h), so the common case
 * touches no cache line the other side writes.
 *
 * The layout is documented in lib/queue/layout.ts; the C++ core (cpp/queue) works on the
 * same bytes, and `paths` says which implementation each operation of this object uses.
 *
 * @example
 * import { Worker } from 'node:worker_threads';
 * import { SpscQueue } from 'ultra-performance';
 *
 * const queue = SpscQueue.create({ capacity: 1024, slotBytes: 64 });
 * new Worker('./consumer.js', { workerData: queue.buffer });
 * queue.push(new TextEncoder().encode('hello'));   // waits if full
 * queue.close();                                    // the consumer drains, then pop() returns -1
 *
 * // consumer.js
 * import { workerData } from 'node:worker_threads';
 * const q = SpscQueue.attach(workerData);
 * const out = new Uint8Array(q.slotBytes);
 * for (let n; (n = q.pop(out)) >= 0; ) handle(out.subarray(0, n));
 */
export class SpscQueue extends SharedQueue {
  private constructor(buffer: SharedArrayBuffer, geometry: Geometry, options: ObjectOptions) {
    super(buffer, geometry, options);
  }

  /**
   * Allocates a queue in a new SharedArrayBuffer.
   * @example
   * const q = SpscQueue.create({ capacity: 4096, slotBytes: 256 });
   */
  static create(options: QueueCreateOptions): SpscQueue {
    const geometry = geometryFromOptions('spsc', options);
    const perObject = objectOptions(options, 'SpscQueue.create');
    const buffer = new SharedArrayBuffer(geometry.totalBytes);
    writeHeader(buffer, geometry);
    return new SpscQueue(buffer, geometry, perObject);
  }

  /**
   * Attaches to a queue made by SpscQueue.create (in this thread or another). Throws a
   * TypeError or RangeError for a buffer that is not an SPSC queue.
   * @example
   * const q = SpscQueue.attach(workerData.buffer);
   */
  static attach(buffer: SharedArrayBuffer, options?: QueueAttachOptions): SpscQueue {
    const perObject = objectOptions(options, 'SpscQueue.attach');
    return new SpscQueue(buffer, readGeometry(buffer, 'spsc'), perObject);
  }

  protected tsTryPush(bytes: Uint8Array): boolean {
    checkBytes(bytes, this.slotBytes);
    const r = spscTryPush(this.i32, this.u8, this.capacity, this.mask, this.stride, bytes);
    return r === Status.Pushed || this.afterPush(r) > 0;
  }

  protected nativeTryPush(bytes: Uint8Array): boolean {
    checkBytes(bytes, this.slotBytes);
    const r = this.addon!.spscTryPush(this.u8, bytes);
    return r === Status.Pushed || this.afterPush(r) > 0;
  }

  protected tsTryPop(out: Uint8Array): number {
    checkOut(out, this.slotBytes);
    const r = spscTryPop(this.i32, this.u8, this.capacity, this.mask, this.stride, this.slotBytes, this.views, out);
    return r >= Status.Empty && r < Status.WakeBit ? r : this.afterPop(r);
  }

  protected nativeTryPop(out: Uint8Array): number {
    checkOut(out, this.slotBytes);
    const r = this.addon!.spscTryPop(this.u8, out);
    return r >= Status.Empty && r < Status.WakeBit ? r : this.afterPop(r);
  }

  protected tsPushBatch(data: Uint8Array, lengths: Uint32Array, count?: number): number {
    const n = this.checkPushBatch(data, lengths, count);
    if (checkBatch(lengths, n, this.slotBytes, data.length) !== -1) throwBadBatch(data, lengths, n, this.slotBytes);
    const r = spscPushBatch(this.i32, this.u8, this.qdv, this.capacity, this.mask, this.stride, this.slotBytes, data, this.dataView(data), 0, lengths, 0, n);
    if (r === Status.BadBatch) throwBadBatch(data, lengths, n, this.slotBytes);
    return r >= 0 && r < Status.WakeBit ? r : this.afterPush(r);
  }

  protected nativePushBatch(data: Uint8Array, lengths: Uint32Array, count?: number): number {
    const n = this.checkPushBatch(data, lengths, count);
    const r = this.addon!.spscPushBatch(this.u8, data, lengths, n);
    if (r === Status.BadBatch) throwBadBatch(data, lengths, n, this.slotBytes);
    return r >= 0 && r < Status.WakeBit ? r : this.afterPush(r);
  }

  protected tsPopBatch(out: Uint8Array, lengths: Uint32Array, maxCount?: number): number {
    const max = this.checkPopBatch(out, lengths, maxCount);
    const r = spscPopBatch(this.i32, this.u8, this.capacity, this.mask, this.stride, this.slotBytes, this.views, out, lengths, max);
    return r >= 0 && r < Status.WakeBit ? r : this.afterPop(r);
  }

  protected nativePopBatch(out: Uint8Array, lengths: Uint32Array, maxCount?: number): number {
    const max = this.checkPopBatch(out, lengths, maxCount);
    const r = this.addon!.spscPopBatch(this.u8, out, lengths, max);
    return r >= 0 && r < Status.WakeBit ? r : this.afterPop(r);
  }
}
