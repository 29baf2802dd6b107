// The deadline scheduler's contract. The database holds every deadline; a scheduler is only a
// trigger that calls the handler at (or soon after) a deadline's due time. Handlers re-read the
// session and apply the engine's idempotent tick, so duplicate or late firings are harmless.

/** One trigger. Ids and a time only, never an amount: job data is stored in Redis. */
export interface DeadlineJob {
  sessionId: string;
  /** Which deadline of the session, e.g. "step2-close", "proposal-<id>-expiry". */
  key: string;
  /** Epoch milliseconds. */
  dueAt: number;
}

export type DeadlineHandler = (
  job: DeadlineJob,
  info: { firedAt: number; latenessMs: number },
) => Promise<void>;

export interface Scheduler {
  readonly kind: "in-process" | "bullmq";
  /** Begin firing (the worker role). A node that never calls start only schedules. */
  start(handler: DeadlineHandler): Promise<void>;
  /**
   * Idempotent per sessionId+key+dueAt. A new dueAt fires at that time; a trigger ensured for another time may
   * still fire too (BullMQ never withdraws one: ensures from several nodes arrive out of commit order), and its
   * handler finds nothing due. The same dueAt while its trigger is pending (or its handler is running or retrying)
   * changes nothing; a dueAt in the past fires as soon as possible.
   */
  ensure(jobs: DeadlineJob[]): Promise<void>;
  /** Drops this session's pending triggers whose key is not in keepKeys (BullMQ: the one ensured last per key). */
  cancelSession(sessionId: string, keepKeys?: string[]): Promise<void>;
  /**
   * Only where triggers live outside the process (BullMQ): calls `listener` each time the trigger store comes back
   * after a disconnect. It may have come back empty (Redis restarted without persistence, or flushed), so the
   * listener should ensure every open deadline again from the database. Returns a function that unsubscribes.
   */
  onRecovered?(listener: () => void): () => void;
  /** Stops timers / the worker, waiting for running handlers to finish. */
  close(): Promise<void>;
}

/** Attempts per firing, the first included; retries back off exponentially from the base delay. */
export const MAX_ATTEMPTS = 5;
export const DEFAULT_RETRY_BASE_MS = 1000;

export function retryDelayMs(failedAttempts: number, baseMs: number): number {
  return baseMs * 2 ** (failedAttempts - 1);
}

/**
 * Deterministic trigger id: `dl.<sessionId>.<key>.<dueAt>` with both ids escaped to [A-Za-z0-9_%-].
 * No ":" (BullMQ refuses it in custom ids); never a bare integer (BullMQ refuses that too); the
 * escaping keeps the "." separators unambiguous. dueAt is part of it, so a moved deadline gets a
 * fresh id and a finished trigger never blocks scheduling the new time.
 */
export function jobId(sessionId: string, key: string, dueAt: number): string {
  assertDeadlineJob({ sessionId, key, dueAt });
  return `dl.${escapeIdPart(sessionId)}.${escapeIdPart(key)}.${dueAt}`;
}

function escapeIdPart(part: string): string {
  return encodeURIComponent(part).replace(
    /[.!~*'()]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

// Messages name the field, never its value.
export function assertDeadlineJob(job: DeadlineJob): void {
  if (typeof job.sessionId !== "string" || job.sessionId.length === 0) {
    throw new TypeError("deadline job: sessionId must be a non-empty string");
  }
  if (typeof job.key !== "string" || job.key.length === 0) {
    throw new TypeError("deadline job: key must be a non-empty string");
  }
  if (!Number.isSafeInteger(job.dueAt) || job.dueAt < 0) {
    throw new TypeError("deadline job: dueAt must be a non-negative integer (epoch ms)");
  }
}

/** A copy holding exactly the three contract fields, so nothing else rides along into storage. */
export function toDeadlineJob(job: DeadlineJob): DeadlineJob {
  return { sessionId: job.sessionId, key: job.key, dueAt: job.dueAt };
}
