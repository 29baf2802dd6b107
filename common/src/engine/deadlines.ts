// Every moment at which the session changes by itself. The scheduler arms a timer for each; the Tick it sends
// then fires whatever is due (see clock.ts), so a late or repeated timer is harmless.

import { reminderOffsetsMs } from "../rules";
import { sideHasBidder } from "./setup";
import type { Deadline, DeadlineKind, SessionState, Side } from "./types";
import { SIDES } from "./types";

/** Order among deadlines due at the same moment: reminders and pending answers before the step moves on. */
const KIND_ORDER: Record<DeadlineKind, number> = {
  reminder: 0,
  "request-lapse": 1,
  "proposal-expiry": 2,
  "step2-open": 3,
  "step2-close": 4,
  "step3-close": 5,
};

/**
 * Whether Step 2 would open now if the scheduled start had come (the start time is the only thing missing).
 * A side has joined once it has a member with bidding rights (a closed Step 1 implies it anyway: only bidders
 * approve or skip).
 */
export function readyForStep2(state: SessionState): boolean {
  return (
    state.phase === "setup" &&
    state.terms.closed !== null &&
    SIDES.every((side) => sideHasBidder(state, side))
  );
}

export function reminderKey(side: Side, index: number): string {
  return `reminder-${side}-${index}`;
}

/**
 * Every open deadline, earliest first. A deadline is listed only when reaching it changes the session, so after
 * a Tick at time t none is at or before t. Step 2's start is listed only once both sides joined and Step 1
 * closed: until then, the event that completes those conditions opens Step 2 itself when the start has come.
 */
export function openDeadlines(state: SessionState | null): Deadline[] {
  if (state === null) return [];
  const deadlines: Deadline[] = [];
  switch (state.phase) {
    case "setup":
      if (readyForStep2(state)) deadlines.push({ key: "step2-open", kind: "step2-open", at: state.startAt });
      break;
    case "step2":
      if (state.step2ClosesAt !== null) {
        deadlines.push(...pendingReminders(state, state.step2ClosesAt));
        deadlines.push({ key: "step2-close", kind: "step2-close", at: state.step2ClosesAt });
      }
      break;
    case "step3":
      if (state.request)
        deadlines.push({ key: "request-lapse", kind: "request-lapse", at: state.request.consentBy });
      if (state.proposal) {
        deadlines.push({ key: "proposal-expiry", kind: "proposal-expiry", at: state.proposal.answerBy });
      }
      if (state.step3ClosesAt !== null) {
        deadlines.push({ key: "step3-close", kind: "step3-close", at: state.step3ClosesAt });
      }
      break;
    case "ended":
      break;
  }
  return deadlines.sort((a, b) => a.at - b.at || KIND_ORDER[a.kind] - KIND_ORDER[b.kind]);
}

/** The earliest open deadline, or null when the session will not change by itself. */
export function nextDeadline(state: SessionState | null): Deadline | null {
  return openDeadlines(state)[0] ?? null;
}

/**
 * Reminders for sides that have not entered a number. Once reminder i went out, earlier ones are moot
 * (a late Tick sends only the latest due reminder), so only indexes above the last one sent are listed.
 */
function pendingReminders(state: SessionState, closesAt: number): Deadline[] {
  const offsets = reminderOffsetsMs(state.rules.step2DurationMs);
  const reminders: Deadline[] = [];
  for (const side of SIDES) {
    if (state.numbers[side]) continue;
    let lastSent = -1;
    offsets.forEach((_, index) => {
      if (state.remindersSent[`${side}:${index}`]) lastSent = index;
    });
    offsets.forEach((offset, index) => {
      if (index > lastSent) {
        reminders.push({
          key: reminderKey(side, index),
          kind: "reminder",
          at: closesAt - offset,
          side,
          reminder: index,
        });
      }
    });
  }
  return reminders;
}
