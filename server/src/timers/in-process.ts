// The single-node scheduler (no Redis): one timer per pending deadline, held in memory. Nothing
// here survives a restart; the session service re-ensures every open deadline at start-up.

import { type DeadlineErrorReporter, reportToConsole, safeReport } from "./report";
import {
  assertDeadlineJob,
  DEFAULT_RETRY_BASE_MS,
  type DeadlineHandler,
  type DeadlineJob,
  jobId,
  MAX_ATTEMPTS,
  retryDelayMs,
  type Scheduler,
  toDeadlineJob,
} from "./scheduler";
import { createSessionSerial } from "./session-serial";

// setTimeout fires at once (after a TimeoutOverflowWarning) for any delay above this, and a
// 28-day Step 3 is longer: long waits are chunked and re-checked against the clock.
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export interface InProcessSchedulerOptions {
  /** Clock for due times and lateness; timers themselves always use the global setTimeout. */
  now?: () => number;
  /** Called for every failed handler attempt, before the retry is scheduled. */
  onError?: DeadlineErrorReporter;
  /** First retry delay; later retries double it. */
  retryBaseMs?: number;
  /**
   * Handlers running at once, across sessions (unlimited unless set). The notification queue sets one, as BullMQ's
   * worker has, so that a burst of notices never queues hundreds of transactions ahead of a deadline's tick on the
   * embedded database's single connection.
   */
  concurrency?: number;
}

interface Trigger {
  readonly job: DeadlineJob;
  readonly id: string;
  state: "pending" | "running" | "retrying";
  failedAttempts: number;
  /** When the next firing (first or retry) is due. */
  wakeAt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export function createInProcessScheduler(opts: InProcessSchedulerOptions = {}): Scheduler {
  const now = opts.now ?? (() => Date.now());
  const retryBaseMs = opts.retryBaseMs ?? DEFAULT_RETRY_BASE_MS;
  const report = opts.onError ?? reportToConsole;
  const bySession = new Map<string, Map<string, Trigger>>();
  const serial = createSessionSerial();
  const slots = createSlots(opts.concurrency ?? Number.POSITIVE_INFINITY);
  let handler: DeadlineHandler | undefined;
  let closed = false;

  const isCurrent = (t: Trigger) => bySession.get(t.job.sessionId)?.get(t.job.key) === t;

  function forget(t: Trigger): void {
    const triggers = bySession.get(t.job.sessionId);
    if (triggers?.get(t.job.key) !== t) return;
    triggers.delete(t.job.key);
    if (triggers.size === 0) bySession.delete(t.job.sessionId);
  }

  function disarm(t: Trigger): void {
    if (t.timer !== undefined) clearTimeout(t.timer);
    t.timer = undefined;
  }

  function arm(t: Trigger): void {
    disarm(t);
    if (handler === undefined || closed) return; // start() arms everything pending
    const remaining = t.wakeAt - now();
    if (remaining <= 0) {
      t.timer = setTimeout(() => fire(t), 0);
      return;
    }
    // Re-checked on wake: a chunk may end before the due time, and timers may wake a little early.
    t.timer = setTimeout(() => (now() >= t.wakeAt ? fire(t) : arm(t)), Math.min(remaining, MAX_TIMEOUT_MS));
  }

  function fire(t: Trigger): void {
    t.timer = undefined;
    const run = handler;
    if (run === undefined || closed || !isCurrent(t)) return;
    t.state = "running";
    void serial.run(t.job.sessionId, async () => {
      // Replaced, cancelled or shut down while it waited behind another handler of its session (or for a slot).
      if (closed || !isCurrent(t)) return;
      await slots.acquire();
      if (closed || !isCurrent(t)) return slots.release();
      const firedAt = now();
      try {
        await run(toDeadlineJob(t.job), { firedAt, latenessMs: firedAt - t.job.dueAt });
        forget(t);
      } catch (err) {
        t.failedAttempts += 1;
        safeReport(report, err, t.job);
        if (t.failedAttempts >= MAX_ATTEMPTS || closed || !isCurrent(t)) {
          forget(t);
          return;
        }
        t.state = "retrying";
        t.wakeAt = now() + retryDelayMs(t.failedAttempts, retryBaseMs);
        arm(t);
      } finally {
        slots.release();
      }
    });
  }

  return {
    kind: "in-process",

    async start(h: DeadlineHandler): Promise<void> {
      if (closed) throw new Error("deadline scheduler is closed");
      if (handler !== undefined) throw new Error("deadline scheduler already started");
      handler = h;
      for (const triggers of bySession.values()) for (const t of triggers.values()) arm(t);
    },

    async ensure(jobs: DeadlineJob[]): Promise<void> {
      if (closed) throw new Error("deadline scheduler is closed");
      for (const job of jobs) assertDeadlineJob(job);
      for (const job of jobs) {
        const id = jobId(job.sessionId, job.key, job.dueAt);
        let triggers = bySession.get(job.sessionId);
        const existing = triggers?.get(job.key);
        if (existing?.id === id) continue; // pending, running or retrying already
        // A replaced trigger that is running finishes, but is not retried (isCurrent fails).
        if (existing !== undefined) disarm(existing);
        if (triggers === undefined) {
          triggers = new Map();
          bySession.set(job.sessionId, triggers);
        }
        const t: Trigger = {
          job: toDeadlineJob(job),
          id,
          state: "pending",
          failedAttempts: 0,
          wakeAt: job.dueAt,
          timer: undefined,
        };
        triggers.set(job.key, t);
        arm(t);
      }
    },

    async cancelSession(sessionId: string, keepKeys: string[] = []): Promise<void> {
      const triggers = bySession.get(sessionId);
      if (triggers === undefined) return;
      const keep = new Set(keepKeys);
      for (const [key, t] of triggers) {
        if (keep.has(key)) continue;
        disarm(t);
        triggers.delete(key);
      }
      if (triggers.size === 0) bySession.delete(sessionId);
    },

    async close(): Promise<void> {
      closed = true;
      for (const triggers of bySession.values()) for (const t of triggers.values()) disarm(t);
      bySession.clear();
      await serial.idle();
    },
  };
}

/** A counting semaphore: at most `limit` holders; waiters are served in arrival order. */
function createSlots(limit: number) {
  let held = 0;
  const waiting: Array<() => void> = [];
  return {
    acquire(): Promise<void> {
      if (held < limit) {
        held++;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    release(): void {
      const next = waiting.shift();
      if (next)
        next(); // the slot passes on
      else held--;
    },
  };
}
