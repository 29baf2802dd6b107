// Gathers the sessions whose triggers fire close together into batches, so that a burst of deadlines is applied many
// sessions to a pass (sessions.commands.tickMany) instead of one transaction per session. Each firing still waits for
// its own session's outcome: `submit` resolves once that session's tick has committed, and rejects with its own error
// (the scheduler then retries that trigger alone). Passes run one at a time; a session submitted while a pass that
// holds it is running waits for the next pass, so one session's ticks never run concurrently.

export type BatchRun = (ids: string[]) => Promise<Map<string, unknown>>;

export interface Batcher {
  /** Resolves when `id`'s work in a pass has succeeded; rejects with its error. */
  submit(id: string): Promise<void>;
  /** Resolves once nothing is queued or running. */
  idle(): Promise<void>;
}

export interface BatcherOptions {
  /** Ids handed to one `run` at most (it may split them further). */
  maxBatch?: number;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

export function createBatcher(run: BatchRun, opts: BatcherOptions = {}): Batcher {
  const maxBatch = opts.maxBatch ?? 1000;
  // Insertion-ordered: the earliest firings go first.
  let queued = new Map<string, Waiter[]>();
  let draining: Promise<void> | undefined;

  async function drain(): Promise<void> {
    // Let the firings of the same moment (timers, a worker's fetches) gather before the first pass.
    await new Promise((resolve) => setImmediate(resolve));
    while (queued.size > 0) {
      const batch = new Map<string, Waiter[]>();
      const rest = new Map<string, Waiter[]>();
      for (const [id, waiters] of queued) (batch.size < maxBatch ? batch : rest).set(id, waiters);
      queued = rest;
      let failures: Map<string, unknown>;
      try {
        failures = await run([...batch.keys()]);
      } catch (err) {
        failures = new Map([...batch.keys()].map((id) => [id, err]));
      }
      for (const [id, waiters] of batch) {
        const failed = failures.has(id);
        for (const w of waiters) failed ? w.reject(failures.get(id)) : w.resolve();
      }
    }
  }

  function kick(): void {
    if (draining) return;
    draining = drain().finally(() => {
      draining = undefined;
      // Submitted after the last pass looked: start another.
      if (queued.size > 0) kick();
    });
  }

  return {
    submit(id: string): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        const waiters = queued.get(id);
        if (waiters) waiters.push({ resolve, reject });
        else queued.set(id, [{ resolve, reject }]);
        kick();
      });
    },
    async idle(): Promise<void> {
      while (draining) await draining;
    },
  };
}
