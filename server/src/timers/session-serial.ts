// Runs tasks one at a time per session (in arrival order), in parallel across sessions, so two
// deadlines of one session never race each other for its row lock inside this process.

export interface SessionSerial {
  run<T>(sessionId: string, task: () => Promise<T>): Promise<T>;
  /** Resolves once every task queued so far has settled. */
  idle(): Promise<void>;
}

export function createSessionSerial(): SessionSerial {
  const tails = new Map<string, Promise<void>>();

  return {
    run<T>(sessionId: string, task: () => Promise<T>): Promise<T> {
      const previous = tails.get(sessionId) ?? Promise.resolve();
      const result = previous.then(task);
      const tail = result.then(
        () => undefined,
        () => undefined,
      );
      tails.set(sessionId, tail);
      void tail.then(() => {
        if (tails.get(sessionId) === tail) tails.delete(sessionId);
      });
      return result;
    },
    async idle(): Promise<void> {
      while (tails.size > 0) await Promise.all(tails.values());
    },
  };
}
