/**
 * The child's side of a test fleet (cache-fleet-child.ts, cache-fleet-tiered.ts): answers each
 * `{ op, id }` request from the parent with `{ op: 'done', id, result | error }`; 'ping' is
 * answered here, and 'close' runs `close` and then lets the process exit.
 */
export interface FleetRequest {
  op: string;
  id: number;
  [k: string]: unknown;
}

/** Sends a message to the parent (unsolicited ones carry their own `op`). */
export function sendToParent(m: unknown): void {
  process.send?.(m);
}

export function serveFleetRequests(handle: (m: FleetRequest) => Promise<unknown>, close: () => Promise<void>): void {
  const run = async (m: FleetRequest): Promise<unknown> => {
    if (m.op === 'ping') return null;
    if (m.op === 'close') {
      await close();
      setImmediate(() => process.disconnect?.());
      return null;
    }
    return handle(m);
  };
  process.on('message', (m: FleetRequest) => {
    run(m).then(
      (result) => sendToParent({ op: 'done', id: m.id, result }),
      (err: unknown) => sendToParent({ op: 'done', id: m.id, error: String((err as Error)?.stack ?? err) }),
    );
  });
}
