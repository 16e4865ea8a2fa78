/**
 * Objects created over HTTP (order books, object pools, connections) live here, bounded
 * in number per kind (`limits.maxObjectsPerKind`; past it `add` throws 409) and each
 * bounded in size by its route's schema. They can be listed and deleted; `closeAll`
 * disposes of every one when the server closes.
 */
import { notFound, objectCapReached } from './http-errors.js';

export interface RegisteredObject<T = unknown> {
  readonly id: string;
  readonly kind: string;
  readonly object: T;
  readonly createdAt: number;
  /** What `GET <kind>` shows for it: plain JSON, measured (sizes, counts), never the object itself. */
  describe(): Record<string, unknown>;
  dispose?(): void | Promise<void>;
}

export class ObjectRegistry {
  readonly #maxPerKind: number;
  readonly #kinds = new Map<string, Map<string, RegisteredObject>>();
  #seq = 0;

  constructor(maxPerKind: number) {
    this.#maxPerKind = maxPerKind;
  }

  /** Registers what `make(id)` builds; throws 409 when `kind` is at its cap (before `make` runs). */
  add<T>(kind: string, make: (id: string) => Omit<RegisteredObject<T>, 'id' | 'kind' | 'createdAt'>): RegisteredObject<T> {
    let objects = this.#kinds.get(kind);
    if (objects === undefined) this.#kinds.set(kind, (objects = new Map()));
    if (objects.size >= this.#maxPerKind) throw objectCapReached(kind, this.#maxPerKind);
    const id = `${kind}-${(++this.#seq).toString(36)}`;
    const entry: RegisteredObject<T> = { ...make(id), id, kind, createdAt: Date.now() };
    objects.set(id, entry as RegisteredObject);
    return entry;
  }

  /** The object registered as `id` under `kind`; throws 404 when there is none. */
  get<T>(kind: string, id: string): RegisteredObject<T> {
    const entry = this.#kinds.get(kind)?.get(id);
    if (entry === undefined) throw notFound(kind, id);
    return entry as RegisteredObject<T>;
  }

  list(kind: string): RegisteredObject[] {
    return [...(this.#kinds.get(kind)?.values() ?? [])];
  }

  count(kind: string): number {
    return this.#kinds.get(kind)?.size ?? 0;
  }

  /** The kinds that have held an object (for /metrics: objects by kind). */
  kinds(): string[] {
    return [...this.#kinds.keys()];
  }

  /** Disposes of and forgets `id`; throws 404 when there is none. */
  async delete(kind: string, id: string): Promise<void> {
    const entry = this.get(kind, id);
    this.#kinds.get(kind)!.delete(id);
    await entry.dispose?.();
  }

  /** How many objects of each kind exist (kinds that had objects and have none show 0). */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [kind, objects] of this.#kinds) out[kind] = objects.size;
    return out;
  }

  async closeAll(): Promise<void> {
    const all = [...this.#kinds.values()].flatMap((objects) => [...objects.values()]);
    this.#kinds.clear();
    await Promise.allSettled(all.map((entry) => entry.dispose?.()));
  }
}
