// Reporting a failed handler attempt. The error came from the handler's code, which this module
// cannot vouch for, so the fallback prints ids and the error's class, never its message.

import type { DeadlineJob } from "./scheduler";

export type DeadlineErrorReporter = (err: unknown, job: DeadlineJob) => void;

export function reportToConsole(err: unknown, job: DeadlineJob): void {
  const kind = err instanceof Error ? err.name : typeof err;
  console.error(`deadline handler failed (${kind}) session=${job.sessionId} key=${job.key}`);
}

export function safeReport(report: DeadlineErrorReporter, err: unknown, job: DeadlineJob): void {
  try {
    report(err, job);
  } catch {
    // A failing reporter must not stop retries.
  }
}
