// The next moment the session changes by itself, and what setup still waits for, from the viewer's view.
import type { PhaseDeadline, SessionView, Side } from "@backchannel/common";
import { formatCountdown } from "./time";

// One source with the home page's lines: common/src/dashboard.ts.
export { type PhaseDeadline, phaseDeadline } from "@backchannel/common";

/** "Step 2 — sealed numbers — closes in 1:42:10" */
export function statusLine(title: string, deadline: PhaseDeadline | null, now: number): string {
  return deadline ? `${title} — ${deadline.verb} ${formatCountdown(deadline.at - now)}` : title;
}

function hasMember(view: SessionView, side: Side): boolean {
  return view.members.some((m) => m.role === side);
}

/** What Step 2 still waits for during setup, in words; empty once it can open. */
export function waitingFor(view: SessionView, now: number, clock: (at: number) => string = String): string[] {
  if (view.phase !== "setup") return [];
  const missing: string[] = [];
  for (const side of ["claimant", "respondent"] as const) {
    if (!hasMember(view, side)) missing.push(`the ${side} side to join`);
  }
  if (view.terms.closed === null)
    missing.push("both sides to approve the same terms, or both to choose “settle later”");
  if (view.startAt > now) missing.push(`the start time (${clock(view.startAt)})`);
  return missing;
}
