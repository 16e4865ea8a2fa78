/** The error `fn` throws (fails the test when it returns). */
export function thrown(fn: () => unknown): Error & { code?: string; errno?: number; syscall?: string; cause?: unknown } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a throw');
}
