// The worker role: fires deadlines (the scheduler's handler runs the clock's tick, batched across sessions), arms each
// session's next deadline at start-up and again when Redis returns, and sweeps for overdue ones; on PORT only health
// and readiness.
import { createWorkerApp } from "../http/app";
import type { Role, Shared } from "./shared";

/** `alone`: no web role on this node, so the worker serves PORT (health only) and owns Socket.IO's closing. */
export async function startWorker(shared: Shared, opts: { alone: boolean }): Promise<Role> {
  const { config, sessions, scheduler, notifications, metrics, log } = shared;
  if (opts.alone) shared.serve(createWorkerApp({ config, ready: shared.ready, log }));
  await scheduler.start(async (job, info) => {
    metrics.deadlineLateness.observe(Math.max(0, info.latenessMs) / 1000);
    // Firings that arrive together share transactions with each other and with commands (group commit); each
    // firing waits for its own session's tick, so a failed one is retried alone by the scheduler.
    await sessions.commands.tick(job.sessionId);
  });
  const n = await sessions.commands.reconcileDeadlines();
  log.info({ deadlines: n }, "deadlines reconciled");
  // The outbox holds every notice; its triggers are only that. Unsent ones get a trigger again at start.
  await notifications.start();
  const pending = await notifications.reconcile();
  if (pending > 0) log.info({ notices: pending }, "pending notices re-armed");
  // The database holds every deadline: a row still there well after its time lost its trigger (a job that failed
  // all its retries, a flushed Redis). Re-arm those; a duplicate trigger only finds nothing due. A pass still
  // running when the next is due makes that one skip (while Redis is down each pass fails fast; none pile up).
  const now = shared.now ?? Date.now;
  const sweepDeadlines = once(async () => {
    const count = await sessions.commands.reconcileDeadlines({
      dueBefore: now() - Math.min(config.deadlineSweepMs, 5_000),
    });
    if (count > 0) log.warn({ deadlines: count }, "re-armed overdue deadlines");
  });
  // A notice whose trigger was lost (or whose retries ran out) waits a minute, then gets another.
  const sweepNotices = once(async () => {
    const count = await notifications.reconcile({ olderThan: now() - 60_000 });
    if (count > 0) log.warn({ notices: count }, "re-armed pending notices");
  });
  const sweep = setInterval(() => {
    sweepDeadlines().catch((err: unknown) => log.error({ err: String(err) }, "deadline sweep failed"));
    sweepNotices().catch((err: unknown) => log.error({ err: String(err) }, "notice sweep failed"));
  }, config.deadlineSweepMs);
  sweep.unref();
  // Redis came back after a disconnect, possibly empty: every open deadline gets its trigger again at once (one
  // query, then bulk ensure), and so does every unsent notice. A return during a re-arm runs one more after it.
  let stopped = false;
  const rearm = coalesce(async () => {
    if (stopped) return;
    const count = await sessions.commands.reconcileDeadlines();
    const notices = await notifications.reconcile();
    log.warn({ deadlines: count, notices }, "redis returned: deadlines and notices re-armed");
  });
  const onReturn = (attempt: number): void => {
    rearm().catch((err: unknown) => {
      log.error({ err: String(err), attempt }, "re-arm after redis returned failed");
      // Redis may flap: try again shortly (the sweep remains behind this).
      if (!stopped && attempt < 5) setTimeout(() => onReturn(attempt + 1), 500).unref();
    });
  };
  const unsubscribe = scheduler.onRecovered?.(() => onReturn(1));
  return {
    stopAccepting() {
      stopped = true;
      clearInterval(sweep);
      unsubscribe?.();
    },
    async close() {
      // A worker alone never attached Socket.IO to PORT (io.close would reach for its engine): close its adapter.
      if (opts.alone) await shared.io.of("/").adapter.close();
    },
  };
}

/** Runs `task` unless a run of it is still in progress (then that call resolves at once: the tick is skipped). */
export function once(task: () => Promise<void>): () => Promise<void> {
  let running = false;
  return async () => {
    if (running) return;
    running = true;
    try {
      await task();
    } finally {
      running = false;
    }
  };
}

/** Runs `task`; a call while it runs makes exactly one more run follow it (calls in between are merged). */
export function coalesce(task: () => Promise<void>): () => Promise<void> {
  let current: Promise<void> | undefined;
  let again = false;
  const loop = async (): Promise<void> => {
    try {
      do {
        again = false;
        await task();
      } while (again);
    } finally {
      current = undefined;
    }
  };
  return () => {
    if (current) {
      again = true;
      return current;
    }
    current = loop();
    return current;
  };
}
