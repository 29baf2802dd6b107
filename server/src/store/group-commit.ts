// Group commit: units of work that arrive while a transaction is running share the next one, so a burst of commands
// (or of deadline ticks) costs one BEGIN/COMMIT and one fsync per batch instead of one per unit. Each unit is still
// answered only after the transaction that holds it has committed, with its own outcome.
//
// The rules a batch keeps:
//  - units with the same key (a session) are never in one batch, nor in two batches running at once: a session's
//    units still run one after another, in the order they were submitted;
//  - a unit marked `alone` gets a batch of its own (work that writes outside the batch's deferred writes);
//  - at most `concurrency` batches run at once (1 for the embedded database, which serialises transactions anyway);
//  - `run` may leave units for later (`deferred`, when a batch has spent its time budget): they go back to the front;
//  - when a batch fails as a whole (its transaction threw: nothing of it was stored), each of its units is run again
//    alone, so one bad unit never takes the others down with it; a unit that fails alone is rejected with its error.
// With one unit in flight a batch starts at once: grouping costs a lone command nothing. Between batches the event
// loop gets a turn, so a backlog never starves sockets and health checks.

export type UnitOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown } | { deferred: true };

export interface GroupUnit {
  /** Units with the same key never share or overlap batches. */
  readonly key: string;
  /** Runs in a batch of its own. */
  readonly alone?: boolean;
}

/** Runs one batch in one transaction; answers each unit, in the order given. Throws when the batch failed whole. */
export type RunBatch<U extends GroupUnit, R> = (units: readonly U[]) => Promise<Array<UnitOutcome<R>>>;

export interface GroupCommitOptions {
  /** Units handed to one batch at most. */
  maxBatch?: number;
  /** Batches running at once. */
  concurrency?: number;
}

interface Pending<U, R> {
  unit: U;
  resolve(value: R): void;
  reject(err: unknown): void;
}

export class GroupCommit<U extends GroupUnit, R> {
  private queue: Array<Pending<U, R>> = [];
  private readonly busy = new Set<string>();
  private running = 0;
  private readonly maxBatch: number;
  private readonly concurrency: number;
  private readonly settled = new Set<() => void>();
  private scheduled = false;

  constructor(
    private readonly run: RunBatch<U, R>,
    opts: GroupCommitOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 100;
    this.concurrency = opts.concurrency ?? 1;
  }

  submit(unit: U): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ unit, resolve, reject });
      this.kick();
    });
  }

  /** Units queued or running. */
  get size(): number {
    return this.queue.length + this.busy.size;
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.size > 0) return;
        this.settled.delete(check);
        resolve();
      };
      this.settled.add(check);
    });
  }

  private kick(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Units submitted in the same turn of the event loop (timers firing together, the messages of one read) go to
    // the same batch: a microtask would not do, as the embedded database can run a whole batch within microtasks,
    // between two timer callbacks. For a lone command this costs only the rest of the current loop phase.
    setImmediate(() => {
      this.scheduled = false;
      this.startBatch();
    });
  }

  /**
   * Starts one batch, and the next one turn of the event loop later if another may run: a batch does its staging
   * (up to its time budget) before its first wait, so two started in one turn would hold the loop for both before a
   * socket or a health check could be served.
   */
  private startBatch(): void {
    if (this.running >= this.concurrency) return;
    const batch = this.take();
    if (batch.length === 0) return;
    this.running++;
    void this.runBatch(batch).finally(() => {
      this.running--;
      for (const p of batch) this.busy.delete(p.unit.key);
      for (const check of [...this.settled]) check();
      // The next batch after a turn of the event loop: the embedded database answers within microtasks, so a backlog
      // would otherwise run batch after batch without ever letting a socket or a health check in.
      if (this.queue.length > 0) this.kick();
    });
    if (this.running < this.concurrency && this.queue.length > 0) this.kick();
  }

  /** The next batch: earliest first, one unit per key, none whose key is running; an `alone` unit by itself. */
  private take(): Array<Pending<U, R>> {
    const batch: Array<Pending<U, R>> = [];
    const keys = new Set<string>();
    const rest: Array<Pending<U, R>> = [];
    for (const p of this.queue) {
      const free = !this.busy.has(p.unit.key) && !keys.has(p.unit.key);
      // A key seen once (taken or waiting) keeps its later units waiting, so a session's units stay in order.
      keys.add(p.unit.key);
      const fits =
        free && batch.length < this.maxBatch && !(batch.length > 0 && (p.unit.alone || batch[0]?.unit.alone));
      if (fits) batch.push(p);
      else rest.push(p);
    }
    this.queue = rest;
    for (const p of batch) this.busy.add(p.unit.key);
    return batch;
  }

  private async runBatch(batch: Array<Pending<U, R>>): Promise<void> {
    const deferred: Array<Pending<U, R>> = [];
    try {
      const outcomes = await this.run(batch.map((p) => p.unit));
      for (const [i, p] of batch.entries()) this.settle(p, outcomes[i], deferred);
    } catch (err) {
      if (batch.length === 1) batch[0]?.reject(err);
      // Nothing of the batch was stored: each unit again, alone, in order.
      else
        for (const p of batch) {
          try {
            const [outcome] = await this.run([p.unit]);
            this.settle(p, outcome, deferred);
          } catch (errAlone) {
            p.reject(errAlone);
          }
        }
    }
    // Back to the front, ahead of anything submitted since (their keys are freed when this batch ends).
    if (deferred.length > 0) this.queue = [...deferred, ...this.queue];
  }

  private settle(
    p: Pending<U, R>,
    outcome: UnitOutcome<R> | undefined,
    deferred: Array<Pending<U, R>>,
  ): void {
    if (!outcome) p.reject(new Error("group commit: a batch left a unit unanswered"));
    else if ("deferred" in outcome) deferred.push(p);
    else if (outcome.ok) p.resolve(outcome.value);
    else p.reject(outcome.error);
  }
}
