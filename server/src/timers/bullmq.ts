// The multi-node scheduler: one BullMQ delayed job per pending deadline. Any node may ensure;
// nodes that called start() run a worker that fires due jobs.
//
// Besides the queue, a Redis hash per session maps each deadline key to the id of the job ensured last
// (`<prefix>:deadline-index:<queueName>:<sessionId>`): an ensure of the time it names costs one round
// trip, and cancelSession finds the session's jobs without a scan of the delayed set. An entry is
// deleted when its job completes or fails for the last time; a finished job kept under an id is
// removed before that id is added again, so an overdue, still open deadline fires again.

import { DelayedError, type Job, Queue, UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import { type DeadlineErrorReporter, reportToConsole, safeReport } from "./report";
import {
  assertDeadlineJob,
  DEFAULT_RETRY_BASE_MS,
  type DeadlineHandler,
  type DeadlineJob,
  jobId,
  MAX_ATTEMPTS,
  type Scheduler,
  toDeadlineJob,
} from "./scheduler";
import { createSessionSerial } from "./session-serial";

export interface BullMqSchedulerOptions {
  redisUrl: string;
  /** BullMQ key prefix ("bc" in production, unique per test run). */
  prefix: string;
  queueName?: string;
  /** Jobs one worker runs at once (across sessions; one session's jobs run one at a time). */
  concurrency?: number;
  /** Called for every failed handler attempt, with the original error (Redis only gets a generic one). */
  onError?: DeadlineErrorReporter;
  /** Connection-level errors of the queue, the worker and their Redis clients. */
  onRedisError?: (err: Error) => void;
  /** First retry delay; later retries double it. */
  retryBaseMs?: number;
}

const DEFAULT_QUEUE_NAME = "deadlines";
const JOB_NAME = "deadline";
// The handler's own message and stack could say anything; Redis keeps failed jobs' reasons.
const STORED_FAILURE_REASON = "deadline handler failed (details in the server log)";
// A job may reach a worker whose clock runs ahead of the producer's; a short gap is slept off so a
// handler never sees a deadline that is not yet due by its own clock, a long one is re-delayed.
const MAX_EARLY_SLEEP_MS = 5_000;
// Finished jobs are kept only for inspection; the database and the audit log hold the outcome.
const KEEP_COMPLETED = { age: 24 * 3600, count: 1000 };
const KEEP_FAILED = { age: 7 * 24 * 3600, count: 5000 };
// Deadlines per ensure round (a start-up or Redis-return re-arm hands over every session at once).
const ENSURE_CHUNK = 500;
// A Redis call that gets no answer fails after this long (a hung Redis must not hang a command or /readyz).
const COMMAND_TIMEOUT_MS = 3_000;
// Reconnection attempts while Redis is away: 50 ms, 100 ms, ..., then every RECONNECT_MAX_MS.
const RECONNECT_MAX_MS = 200;

function reconnectDelay(attempt: number): number {
  return Math.min(attempt * 50, RECONNECT_MAX_MS);
}

// Deletes an entry only if it still names this job (a newer ensure may have replaced it).
const DELETE_ENTRY_IF = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`;

export function createBullMqScheduler(opts: BullMqSchedulerOptions): Scheduler {
  const queueName = opts.queueName ?? DEFAULT_QUEUE_NAME;
  const retryBaseMs = opts.retryBaseMs ?? DEFAULT_RETRY_BASE_MS;
  const report = opts.onError ?? reportToConsole;
  const onRedisError = opts.onRedisError ?? ((err: Error) => console.error(`deadline queue: ${err.message}`));
  const indexKey = (sessionId: string) => `${opts.prefix}:deadline-index:${queueName}:${sessionId}`;

  // Queue and index share one client. A call fails after one failed reconnection attempt (and a hung one after
  // COMMAND_TIMEOUT_MS), so ensure, the sweep and readiness answer promptly while Redis is down; the caller logs,
  // and the re-arm when Redis returns (onRecovered) puts back whatever was lost. Reconnection attempts stay
  // frequent (RECONNECT_MAX_MS) so that Redis's return is noticed within a fraction of a second.
  const queueClient = new Redis(opts.redisUrl, {
    maxRetriesPerRequest: 1,
    commandTimeout: COMMAND_TIMEOUT_MS,
    retryStrategy: reconnectDelay,
  });
  queueClient.on("error", onRedisError);
  // Redis came back after a disconnect: it may have restarted empty (no jobs, no index), so whoever keeps the
  // deadlines (the worker, from the database) must ensure them again. The first connection is not a return.
  const recoveredListeners = new Set<() => void>();
  let connectedOnce = false;
  let disconnected = false;
  queueClient.on("close", () => {
    if (connectedOnce) disconnected = true;
  });
  queueClient.on("ready", () => {
    connectedOnce = true;
    if (!disconnected || closed) return;
    disconnected = false;
    for (const listener of recoveredListeners) {
      try {
        listener();
      } catch (err) {
        onRedisError(err instanceof Error ? err : new Error(String(err)));
      }
    }
  });
  const queue = new Queue<DeadlineJob>(queueName, { connection: queueClient, prefix: opts.prefix });
  queue.on("error", onRedisError);

  const serial = createSessionSerial();
  const cleanups = new Set<Promise<void>>();
  let worker: Worker<DeadlineJob> | undefined;
  let workerClient: Redis | undefined;
  let closed = false;

  function track(work: Promise<unknown>): void {
    const p = work.then(
      () => undefined,
      (err: unknown) => onRedisError(err instanceof Error ? err : new Error(String(err))),
    );
    cleanups.add(p);
    void p.then(() => cleanups.delete(p));
  }

  function forgetFinished(job: Job<DeadlineJob> | undefined): void {
    if (job?.id === undefined) return;
    const { sessionId, key } = job.data;
    track(queueClient.eval(DELETE_ENTRY_IF, 1, indexKey(sessionId), key, job.id));
  }

  /**
   * Ensures a chunk of deadlines in a few round trips: one pipeline reading their index entries and the state of the
   * job under each new id; then, for the ids with no pending job, a removal of a finished job kept under the id (it
   * would make the add a silent no-op), one addBulk; and one pipeline setting the entries that name another id.
   *
   * An ensure never withdraws a job it displaces from the index. Ensures from several nodes reach Redis in any order,
   * whatever the order of their commits, so the displaced job may be the session's real next deadline: a stale ensure
   * for an earlier time, arriving after that time's job has fired and re-armed the next one, would otherwise remove
   * the real trigger and leave the deadline to the sweep. A job that is not the next deadline fires, finds nothing due
   * and re-arms the real one (a tick that finds nothing due does that, under the session's lock).
   */
  async function ensureChunk(jobs: DeadlineJob[]): Promise<void> {
    const ids = jobs.map((job) => jobId(job.sessionId, job.key, job.dueAt));
    const lookup = queueClient.pipeline();
    jobs.forEach((job, i) => {
      lookup.hget(indexKey(job.sessionId), job.key);
      lookup.hmget(queue.toKey(ids[i] as string), "timestamp", "finishedOn");
    });
    const replies = (await lookup.exec()) ?? [];
    const swaps: Array<{ job: DeadlineJob; id: string }> = [];
    const adds: Array<{ job: DeadlineJob; id: string; finished: boolean }> = [];
    jobs.forEach((job, i) => {
      const [err, current] = replies[2 * i] ?? [new Error("no reply"), null];
      const [errJob, fields] = replies[2 * i + 1] ?? [new Error("no reply"), null];
      if (err || errJob) throw err ?? errJob;
      const [addedAt, finishedOn] = (fields as Array<string | null> | null) ?? [null, null];
      const id = ids[i] as string;
      // A job that exists and has not finished is delayed, waiting, running or retrying: it will fire (or is firing,
      // and its tick applies whatever is due once it holds the lock). A finished one is only kept for inspection.
      const pending = addedAt !== null && finishedOn === null;
      if (!pending) adds.push({ job, id, finished: addedAt !== null });
      if (current !== id) swaps.push({ job, id });
    });
    if (adds.length > 0) {
      await Promise.all(adds.filter((a) => a.finished).map(({ id }) => queue.remove(id)));
      const at = Date.now();
      await queue.addBulk(
        adds.map(({ job, id }) => ({
          name: JOB_NAME,
          data: toDeadlineJob(job),
          opts: {
            jobId: id,
            delay: Math.max(0, job.dueAt - at),
            attempts: MAX_ATTEMPTS,
            backoff: { type: "exponential", delay: retryBaseMs },
            removeOnComplete: KEEP_COMPLETED,
            removeOnFail: KEEP_FAILED,
            stackTraceLimit: 0,
          },
        })),
      );
    }
    if (swaps.length === 0) return;
    const entries = queueClient.pipeline();
    for (const { job, id } of swaps) entries.hset(indexKey(job.sessionId), job.key, id);
    for (const [err] of (await entries.exec()) ?? []) if (err) throw err;
  }

  async function process(job: Job<DeadlineJob>, token: string | undefined, handler: DeadlineHandler) {
    const deadline = readDeadlineJob(job.data);
    const early = deadline.dueAt - Date.now();
    if (early > MAX_EARLY_SLEEP_MS) {
      await job.moveToDelayed(deadline.dueAt, token);
      throw new DelayedError(); // tells the worker the job was re-delayed, not failed
    }
    if (early > 0) await sleep(early);
    await serial.run(deadline.sessionId, async () => {
      const firedAt = Date.now();
      try {
        await handler(deadline, { firedAt, latenessMs: firedAt - deadline.dueAt });
      } catch (err) {
        safeReport(report, err, deadline);
        throw new Error(STORED_FAILURE_REASON);
      }
    });
  }

  return {
    kind: "bullmq",

    async start(handler: DeadlineHandler): Promise<void> {
      if (closed) throw new Error("deadline scheduler is closed");
      if (worker !== undefined) throw new Error("deadline scheduler already started");
      // BullMQ's workers block on Redis and must retry forever rather than fail a command.
      workerClient = new Redis(opts.redisUrl, { maxRetriesPerRequest: null, retryStrategy: reconnectDelay });
      workerClient.on("error", onRedisError);
      worker = new Worker<DeadlineJob>(queueName, (job, token) => process(job, token, handler), {
        connection: workerClient,
        prefix: opts.prefix,
        concurrency: opts.concurrency ?? 8,
      });
      worker.on("error", onRedisError);
      worker.on("completed", (job) => forgetFinished(job));
      // finishedOn is set only when no retry follows (attempts used up, or an unrecoverable error).
      worker.on("failed", (job) => {
        if (job?.finishedOn !== undefined) forgetFinished(job);
      });
      await worker.waitUntilReady();
    },

    async ensure(jobs: DeadlineJob[]): Promise<void> {
      if (closed) throw new Error("deadline scheduler is closed");
      for (const job of jobs) assertDeadlineJob(job);
      // One trigger per session and key: of two entries for the same one, the later wins (as if ensured in turn).
      const latest = new Map<string, DeadlineJob>();
      for (const job of jobs) {
        const target = `${job.sessionId}\u0000${job.key}`;
        latest.delete(target);
        latest.set(target, job);
      }
      const unique = [...latest.values()];
      for (let i = 0; i < unique.length; i += ENSURE_CHUNK)
        await ensureChunk(unique.slice(i, i + ENSURE_CHUNK));
    },

    onRecovered(listener: () => void): () => void {
      recoveredListeners.add(listener);
      return () => recoveredListeners.delete(listener);
    },

    async cancelSession(sessionId: string, keepKeys: string[] = []): Promise<void> {
      const index = indexKey(sessionId);
      const entries = await queueClient.hgetall(index);
      const keep = new Set(keepKeys);
      for (const [key, id] of Object.entries(entries)) {
        if (keep.has(key)) continue;
        await queue.remove(id);
        await queueClient.eval(DELETE_ENTRY_IF, 1, index, key, id);
      }
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      // worker.close() waits for running handlers (and their retries' bookkeeping) to finish.
      if (worker !== undefined) await worker.close();
      await serial.idle();
      while (cleanups.size > 0) await Promise.all(cleanups);
      await queue.close();
      await Promise.all([queueClient.quit(), workerClient?.quit()]);
    },
  };
}

// Anything else in a job's data would be a bug upstream; refuse it rather than pass it on.
function readDeadlineJob(data: unknown): DeadlineJob {
  const d = data as Partial<DeadlineJob> | null;
  const job = { sessionId: d?.sessionId, key: d?.key, dueAt: d?.dueAt } as DeadlineJob;
  try {
    assertDeadlineJob(job);
  } catch (err) {
    throw new UnrecoverableError(err instanceof Error ? err.message : "invalid deadline job");
  }
  return job;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
