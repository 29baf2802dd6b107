// The worker role: fires deadlines (the scheduler's handler runs the clock's tick), reschedules every stored deadline
// at start-up and sweeps for overdue ones; on PORT only health and readiness.
import { createWorkerApp } from "../http/app";
import type { Role, Shared } from "./shared";

/** `alone`: no web role on this node, so the worker serves PORT (health only) and owns Socket.IO's closing. */
export async function startWorker(shared: Shared, opts: { alone: boolean }): Promise<Role> {
  const { config, sessions, scheduler, notifications, metrics, log } = shared;
  if (opts.alone) shared.serve(createWorkerApp({ config, ready: shared.ready, log }));
  await scheduler.start(async (job, info) => {
    metrics.deadlineLateness.observe(Math.max(0, info.latenessMs) / 1000);
    await sessions.commands.tick(job.sessionId);
  });
  const n = await sessions.commands.reconcileDeadlines();
  log.info({ deadlines: n }, "deadlines reconciled");
  // The outbox holds every notice; its triggers are only that. Unsent ones get a trigger again at start.
  await notifications.start();
  const pending = await notifications.reconcile();
  if (pending > 0) log.info({ notices: pending }, "pending notices re-armed");
  // The database holds every deadline: a row still there well after its time lost its trigger (a job that failed
  // all its retries, a flushed Redis). Re-arm those; a duplicate trigger only finds nothing due.
  const now = shared.now ?? Date.now;
  const sweep = setInterval(() => {
    sessions.commands
      .reconcileDeadlines({ dueBefore: now() - Math.min(config.deadlineSweepMs, 5_000) })
      .then((count) => {
        if (count > 0) log.warn({ deadlines: count }, "re-armed overdue deadlines");
      })
      .catch((err: unknown) => log.error({ err: String(err) }, "deadline sweep failed"));
    // A notice whose trigger was lost (or whose retries ran out) waits a minute, then gets another.
    notifications
      .reconcile({ olderThan: now() - 60_000 })
      .then((count) => {
        if (count > 0) log.warn({ notices: count }, "re-armed pending notices");
      })
      .catch((err: unknown) => log.error({ err: String(err) }, "notice sweep failed"));
  }, config.deadlineSweepMs);
  sweep.unref();
  return {
    stopAccepting() {
      clearInterval(sweep);
    },
    async close() {
      // A worker alone never attached Socket.IO to PORT (io.close would reach for its engine): close its adapter.
      if (opts.alone) await shared.io.of("/").adapter.close();
    },
  };
}
