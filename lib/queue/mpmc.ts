import { checkBatch, mpmcPopBatch, mpmcPushBatch, mpmcTryPop, mpmcTryPush } from './kernel.js';
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

// A deliberate twin of SpscQueue (spsc.ts): the same eight methods over the other kernel set. Each
// class calls its own kernels directly, so every call site stays monomorphic and V8
// inlines the kernel; one shared method would dispatch over both kinds on the hot path.
/**
 * A bounded multi-producer multi-consumer queue of byte messages in a
 * SharedArrayBuffer: Dmitry Vyukov's bounded MPMC queue, one sequence number per slot,
 * positions claimed with a compare-and-swap. Any number of threads may push and pop;
 * messages from one producer come out in the order it pushed them.
 *
 * The layout is documented in lib/queue/layout.ts; the C++ core (cpp/queue) works on the
 * same bytes, and `paths` says which implementation each operation of this object uses.
 *
 * @example
 * import { Worker } from 'node:worker_threads';
 * import { MpmcQueue } from 'ultra-performance';
 *
 * const jobs = MpmcQueue.create({ capacity: 4096, slotBytes: 128 });
 * for (let i = 0; i < 4; i++) new Worker('./worker.js', { workerData: jobs.buffer });
 * jobs.push(encodeJob(job));
 *
 * // worker.js: every worker pops from the same queue
 * const q = MpmcQueue.attach(workerData);
 * const out = new Uint8Array(q.slotBytes);
 * for (let n; (n = q.pop(out)) >= 0; ) run(out.subarray(0, n));
 */
export class MpmcQueue extends SharedQueue {
  private constructor(buffer: SharedArrayBuffer, geometry: Geometry, options: ObjectOptions) {
    super(buffer, geometry, options);
  }

  /**
   * Allocates a queue in a new SharedArrayBuffer.
   * @example
   * const q = MpmcQueue.create({ capacity: 4096, slotBytes: 256 });
   */
  static create(options: QueueCreateOptions): MpmcQueue {
    const geometry = geometryFromOptions('mpmc', options);
    const perObject = objectOptions(options, 'MpmcQueue.create');
    const buffer = new SharedArrayBuffer(geometry.totalBytes);
    writeHeader(buffer, geometry);
    return new MpmcQueue(buffer, geometry, perObject);
  }

  /**
   * Attaches to a queue made by MpmcQueue.create (in this thread or another). Throws a
   * TypeError or RangeError for a buffer that is not an MPMC queue.
   * @example
   * const q = MpmcQueue.attach(workerData.buffer);
   */
  static attach(buffer: SharedArrayBuffer, options?: QueueAttachOptions): MpmcQueue {
    const perObject = objectOptions(options, 'MpmcQueue.attach');
    return new MpmcQueue(buffer, readGeometry(buffer, 'mpmc'), perObject);
  }

  protected tsTryPush(bytes: Uint8Array): boolean {
    checkBytes(bytes, this.slotBytes);
    const r = mpmcTryPush(this.i32, this.u8, this.qdv, this.mask, this.stride, bytes);
    return r === Status.Pushed || this.afterPush(r) > 0;
  }

  protected nativeTryPush(bytes: Uint8Array): boolean {
    checkBytes(bytes, this.slotBytes);
    const r = this.addon!.mpmcTryPush(this.u8, bytes);
    return r === Status.Pushed || this.afterPush(r) > 0;
  }

  protected tsTryPop(out: Uint8Array): number {
    checkOut(out, this.slotBytes);
    const r = mpmcTryPop(this.i32, this.u8, this.capacity, this.mask, this.stride, this.slotBytes, this.views, out);
    return r >= Status.Empty && r < Status.WakeBit ? r : this.afterPop(r);
  }

  protected nativeTryPop(out: Uint8Array): number {
    checkOut(out, this.slotBytes);
    const r = this.addon!.mpmcTryPop(this.u8, out);
    return r >= Status.Empty && r < Status.WakeBit ? r : this.afterPop(r);
  }

  protected tsPushBatch(data: Uint8Array, lengths: Uint32Array, count?: number): number {
    const n = this.checkPushBatch(data, lengths, count);
    if (checkBatch(lengths, n, this.slotBytes, data.length) !== -1) throwBadBatch(data, lengths, n, this.slotBytes);
    const r = mpmcPushBatch(this.i32, this.u8, this.qdv, this.capacity, this.mask, this.stride, this.slotBytes, data, this.dataView(data), 0, lengths, 0, n);
    if (r === Status.BadBatch) throwBadBatch(data, lengths, n, this.slotBytes);
    return r >= 0 && r < Status.WakeBit ? r : this.afterPush(r);
  }

  protected nativePushBatch(data: Uint8Array, lengths: Uint32Array, count?: number): number {
    const n = this.checkPushBatch(data, lengths, count);
    const r = this.addon!.mpmcPushBatch(this.u8, data, lengths, n);
    if (r === Status.BadBatch) throwBadBatch(data, lengths, n, this.slotBytes);
    return r >= 0 && r < Status.WakeBit ? r : this.afterPush(r);
  }

  protected tsPopBatch(out: Uint8Array, lengths: Uint32Array, maxCount?: number): number {
    const max = this.checkPopBatch(out, lengths, maxCount);
    const r = mpmcPopBatch(this.i32, this.u8, this.capacity, this.mask, this.stride, this.slotBytes, this.views, out, lengths, max);
    return r >= 0 && r < Status.WakeBit ? r : this.afterPop(r);
  }

  protected nativePopBatch(out: Uint8Array, lengths: Uint32Array, maxCount?: number): number {
    const max = this.checkPopBatch(out, lengths, maxCount);
    const r = this.addon!.mpmcPopBatch(this.u8, out, lengths, max);
    return r >= 0 && r < Status.WakeBit ? r : this.afterPop(r);
  }
}
