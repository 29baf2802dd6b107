// The multi-node scheduler: one BullMQ delayed job per pending deadline. Any node may ensure;
// nodes that called start() run a worker that fires due jobs.
//
// Besides the queue, a Redis hash per session maps each deadline key to the id of its pending job
// (`<prefix>:deadline-index:<queueName>:<sessionId>`), so replacing a moved deadline costs O(1)
// instead of a scan of the delayed set. An entry is deleted when its job completes or fails for
// the last time, which is what lets a later ensure of the same (overdue, still open) deadline
// fire it again rather than be ignored as a duplicate job id.

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

// Sets an index entry and returns the id it displaced, atomically, so that each of two racing
// ensures removes exactly the job it replaced.
const SWAP_ENTRY = `local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return old`;
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

  // Queue and index share one client; it keeps ioredis's default per-command retry limit so that
  // ensure fails (and the caller logs) instead of hanging while Redis is down.
  const queueClient = new Redis(opts.redisUrl);
  queueClient.on("error", onRedisError);
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

  async function ensureOne(job: DeadlineJob): Promise<void> {
    const id = jobId(job.sessionId, job.key, job.dueAt);
    const index = indexKey(job.sessionId);
    const pending = await queueClient.hget(index, job.key);
    if (pending === id) return; // pending, running or retrying already

    // A finished job under this id (kept for inspection) would make add() a silent no-op.
    await queue.remove(id);
    await queue.add(JOB_NAME, toDeadlineJob(job), {
      jobId: id,
      delay: Math.max(0, job.dueAt - Date.now()),
      attempts: MAX_ATTEMPTS,
      backoff: { type: "exponential", delay: retryBaseMs },
      removeOnComplete: KEEP_COMPLETED,
      removeOnFail: KEEP_FAILED,
      stackTraceLimit: 0,
    });
    const displaced = (await queueClient.eval(SWAP_ENTRY, 1, index, job.key, id)) as string | null;
    // A displaced job that is running cannot be removed (remove returns 0); it finishes harmlessly.
    if (displaced !== null && displaced !== id) await queue.remove(displaced);
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
      workerClient = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
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
      for (const job of jobs) await ensureOne(job);
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
