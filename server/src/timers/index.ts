// Picks the deadline scheduler: BullMQ when Redis is configured (several nodes share it),
// otherwise the in-process one (a single embedded node).

import { createBullMqScheduler } from "./bullmq";
import { createInProcessScheduler } from "./in-process";
import type { DeadlineErrorReporter } from "./report";
import type { Scheduler } from "./scheduler";

export type { BullMqSchedulerOptions } from "./bullmq";
export { createBullMqScheduler } from "./bullmq";
export type { InProcessSchedulerOptions } from "./in-process";
export { createInProcessScheduler } from "./in-process";
export type { DeadlineErrorReporter } from "./report";
export type { DeadlineHandler, DeadlineJob, Scheduler } from "./scheduler";
export { jobId } from "./scheduler";

export interface CreateSchedulerOptions {
  redisUrl?: string;
  /** BullMQ key prefix; ignored without redisUrl. */
  prefix?: string;
  /** BullMQ queue name ("deadlines" unless given); ignored without redisUrl. */
  queueName?: string;
  onError?: DeadlineErrorReporter;
  onRedisError?: (err: Error) => void;
  /** The node's clock (in process only: BullMQ's delays are Redis's). */
  now?: () => number;
  /** Handlers one node runs at once (BullMQ: its worker's concurrency; in process: unlimited unless set). */
  concurrency?: number;
}

const DEFAULT_PREFIX = "bc";

export function createScheduler(opts: CreateSchedulerOptions): Scheduler {
  if (opts.redisUrl) {
    return createBullMqScheduler({
      redisUrl: opts.redisUrl,
      prefix: opts.prefix ?? DEFAULT_PREFIX,
      ...(opts.queueName && { queueName: opts.queueName }),
      ...(opts.onError && { onError: opts.onError }),
      ...(opts.onRedisError && { onRedisError: opts.onRedisError }),
      ...(opts.concurrency && { concurrency: opts.concurrency }),
    });
  }
  return createInProcessScheduler({
    ...(opts.now && { now: opts.now }),
    ...(opts.onError && { onError: opts.onError }),
    ...(opts.concurrency && { concurrency: opts.concurrency }),
  });
}
