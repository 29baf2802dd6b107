// When each push reached one client socket, stamped with performance.now() on arrival, indexed by key so a
// waiter costs O(1) and a push that arrived before anyone asked (say, before the ack) still counts.

export interface Arrival<T> {
  at: number;
  payload: T;
}

export class ArrivalLog<T> {
  private readonly seen = new Map<string, Arrival<T>>();
  private readonly waiters = new Map<string, Array<(a: Arrival<T>) => void>>();

  constructor(private readonly keysOf: (payload: T) => string[]) {}

  record(payload: T): void {
    const at = performance.now();
    for (const key of this.keysOf(payload)) {
      if (this.seen.has(key)) continue; // the first arrival is the one that counts
      const arrival = { at, payload };
      this.seen.set(key, arrival);
      const waiting = this.waiters.get(key);
      if (waiting) {
        this.waiters.delete(key);
        for (const resolve of waiting) resolve(arrival);
      }
    }
  }

  waitFor(key: string, timeoutMs: number, what = key): Promise<Arrival<T>> {
    const hit = this.seen.get(key);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = this.waiters.get(key);
        if (list)
          this.waiters.set(
            key,
            list.filter((w) => w !== done),
          );
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = (a: Arrival<T>) => {
        clearTimeout(timer);
        resolve(a);
      };
      const list = this.waiters.get(key) ?? [];
      list.push(done);
      this.waiters.set(key, list);
    });
  }
}
