// The clock's side of the engine: what happens by itself once time reaches a deadline.

import { openDeadlines } from "./deadlines";
import { closeStep2, resolveProposal } from "./outcomes";
import { evolve } from "./state";
import type { Context, Deadline, SessionEvent, SessionState } from "./types";

/**
 * Every event due at ctx.now, earliest deadline first. Each fired deadline leaves the list, so a second call
 * at the same time returns nothing. A deadline that fires may open the next one (Step 3 after Step 2), which
 * fires in the same call when it is due too, as after a long outage.
 */
export function dueEvents(state: SessionState, ctx: Context): SessionEvent[] {
  const events: SessionEvent[] = [];
  const handled = new Set<string>();
  let current = state;
  for (;;) {
    const due = openDeadlines(current).filter((d) => d.at <= ctx.now && !handled.has(d.key));
    const deadline = due[0];
    if (!deadline) return events;
    handled.add(deadline.key);
    const fired = fire(current, deadline, due, ctx);
    for (const event of fired) current = evolve(current, event);
    events.push(...fired);
  }
}

function fire(
  state: SessionState,
  deadline: Deadline,
  due: readonly Deadline[],
  ctx: Context,
): SessionEvent[] {
  const now = ctx.now;
  switch (deadline.kind) {
    case "step2-open":
      return [
        {
          type: "Step2Opened",
          // Opened at the actual time, not the scheduled one, so a late start still gives the full Step 2.
          at: now,
          closesAt: now + state.rules.step2DurationMs,
          sessionEndsAt: now + state.rules.maxSessionMs,
        },
      ];
    case "step2-close":
      return closeStep2(state, ctx);
    case "step3-close":
      return [{ type: "SessionEnded", at: now, outcome: "expired", side: null, by: null }];
    case "request-lapse":
      return state.request
        ? [{ type: "ProposalRequestLapsed", at: now, requestId: state.request.requestId }]
        : [];
    case "proposal-expiry":
      return state.proposal ? resolveProposal(state, state.proposal, now) : [];
    case "reminder":
      return reminder(state, deadline, due, now);
  }
}

/**
 * A reminder is worth sending only while Step 2 is still open, and only the latest one due per side:
 * after an outage, "1 hour left" replaces an overdue "24 hours left".
 */
function reminder(
  state: SessionState,
  deadline: Deadline,
  due: readonly Deadline[],
  now: number,
): SessionEvent[] {
  const closesAt = state.step2ClosesAt;
  if (closesAt === null || now >= closesAt) return [];
  const { side, reminder: index } = deadline;
  if (side === undefined || index === undefined) return [];
  const laterDue = due.some((d) => d.kind === "reminder" && d.side === side && d.at > deadline.at);
  if (laterDue) return [];
  return [{ type: "ReminderDue", at: now, side, closesAt, reminder: index }];
}
