// A session as a line of someone's home page: its state (an ended session says how it ended), the next moment it
// changes by itself, pending knocks and proposals, and what is waiting for this person. Computed from the viewer's
// own SessionView only, so a dashboard can never say more than the session page does; the server sends it and the
// client shows it (and counts the deadline down) without deciding anything itself.
import { z } from "zod";
import { roleSchema, sideSchema } from "./engine/commands";
import type { Role } from "./engine/types";
import { SIDES } from "./engine/types";
import type { SessionView } from "./visibility";

/** How a session stands: its step while it runs, how it ended once it has. */
export const SESSION_STATUSES = [
  "setup",
  "step2",
  "step3",
  "deal",
  "withdrawn",
  "expired",
  "cancelled",
] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

/** The next moment the session changes by itself, as its viewer may know it. */
export const DEADLINE_KINDS = ["step2-open", "step2-close", "step3-close", "consent", "proposal"] as const;
export type PhaseDeadlineKind = (typeof DEADLINE_KINDS)[number];

export interface PhaseDeadline {
  kind: PhaseDeadlineKind;
  /** "opens in", "closes in", "answer due in" */
  verb: string;
  at: number;
}

/**
 * What waits for the viewer, most urgent first:
 * - `knock`: a side asked for the mediator (mediators);
 * - `proposal`: a proposal awaits this side's answer;
 * - `consent`: the other side asked for a smart proposal and awaits this side's consent;
 * - `number`: Step 2 is open and this side has no number yet;
 * - `terms`: Step 1 waits for this side to approve the terms or choose "settle later";
 * - `invite`: a side has nobody yet, and this viewer can invite (mediators and the session's creator).
 */
export const NEEDS = ["knock", "proposal", "consent", "number", "terms", "invite"] as const;
export type Need = (typeof NEEDS)[number];

export const dashboardEntrySchema = z.strictObject({
  id: z.string().min(1),
  title: z.string(),
  role: roleSchema,
  canBid: z.boolean(),
  /** the viewer's stream position, as on the session page */
  version: z.number().int().min(0),
  phase: z.enum(["setup", "step2", "step3", "ended"]),
  status: z.enum(SESSION_STATUSES),
  nextDeadline: z.strictObject({ kind: z.enum(DEADLINE_KINDS), verb: z.string(), at: z.number() }).nullable(),
  /** sides whose request for the mediator is unanswered, as the viewer may know them (a side: only its own) */
  knocks: z.array(z.strictObject({ side: sideSchema, at: z.number() })),
  /** a pending proposal: its kind, when answers are due, and whether this viewer's side answered */
  proposal: z
    .strictObject({
      kind: z.enum(["smart", "mediator"]),
      answerBy: z.number(),
      answeredByYou: z.boolean().nullable(),
    })
    .nullable(),
  needs: z.array(z.enum(NEEDS)),
  /** who has the session open now (by role, each person once); absent where the answer does not know */
  online: z.array(z.strictObject({ userId: z.string().min(1), role: roleSchema })).optional(),
  endedAt: z.number().nullable(),
  /** the time of the latest change the viewer has seen, for "updated 5 minutes ago" and ordering */
  updatedAt: z.number(),
});
export type DashboardEntry = z.output<typeof dashboardEntrySchema>;

/** The step's own deadline, or the pending answer's when that comes first. */
export function phaseDeadline(view: SessionView, now: number): PhaseDeadline | null {
  switch (view.phase) {
    case "setup":
      // Only once the start time is the one thing missing does the session open by itself.
      return view.terms.closed !== null &&
        SIDES.every((side) => view.members.some((m) => m.role === side && m.canBid)) &&
        view.startAt > now
        ? { kind: "step2-open", verb: "opens in", at: view.startAt }
        : null;
    case "step2":
      return view.deadlines.step2ClosesAt === null
        ? null
        : { kind: "step2-close", verb: "closes in", at: view.deadlines.step2ClosesAt };
    case "step3":
      return view.deadlines.step3ClosesAt === null
        ? null
        : { kind: "step3-close", verb: "closes in", at: view.deadlines.step3ClosesAt };
    case "ended":
      return null;
  }
}

/** The earliest of the step's deadline and a pending consent or proposal answer the viewer is told of. */
function nextDeadlineOf(view: SessionView, now: number): PhaseDeadline | null {
  const candidates: PhaseDeadline[] = [];
  const step = phaseDeadline(view, now);
  if (step) candidates.push(step);
  if (view.phase === "step3" && view.request && view.viewer.side !== null)
    candidates.push({ kind: "consent", verb: "consent due in", at: view.request.consentBy });
  if (view.phase === "step3" && view.proposal)
    candidates.push({ kind: "proposal", verb: "answers due in", at: view.proposal.answerBy });
  const future = candidates.filter((d) => d.at > now).sort((a, b) => a.at - b.at);
  return future[0] ?? null;
}

export function sessionStatus(view: SessionView): SessionStatus {
  return view.phase === "ended" ? (view.outcome ?? "cancelled") : view.phase;
}

function needsOf(view: SessionView): Need[] {
  if (view.phase === "ended") return [];
  const needs: Need[] = [];
  const { side, role, canBid, isCreator } = view.viewer;
  if (role === "mediator" && Object.keys(view.knocks).length > 0) needs.push("knock");
  if (side !== null && canBid) {
    const proposal = view.proposal;
    if (proposal && proposal.answered[side] === false) needs.push("proposal");
    if (view.phase === "step3" && view.request && view.request.side !== side) needs.push("consent");
    if (view.phase === "step2" && !view.numbers[side].entered) needs.push("number");
    if (
      view.phase === "setup" &&
      view.terms.closed === null &&
      view.terms.approvals[side] !== view.terms.version &&
      !view.terms.skipped[side]
    )
      needs.push("terms");
  }
  if (
    view.phase === "setup" &&
    (role === "mediator" || isCreator) &&
    SIDES.some((s) => !view.members.some((m) => m.role === s))
  )
    needs.push("invite");
  return needs;
}

/** One line of the viewer's home page, from the viewer's own view of the session. */
export function dashboardEntry(
  view: SessionView,
  now: number,
  online?: Array<{ userId: string; role: Role }>,
): DashboardEntry {
  const side = view.viewer.side;
  const entry: DashboardEntry = {
    id: view.id,
    title: view.title,
    role: view.viewer.role,
    canBid: view.viewer.canBid,
    version: view.version,
    phase: view.phase,
    status: sessionStatus(view),
    nextDeadline: view.phase === "ended" ? null : nextDeadlineOf(view, now),
    knocks: SIDES.flatMap((s) => {
      const k = view.knocks[s];
      return k ? [{ side: s, at: k.at }] : [];
    }),
    proposal: view.proposal
      ? {
          kind: view.proposal.kind,
          answerBy: view.proposal.answerBy,
          answeredByYou: side === null ? null : (view.proposal.answered[side] ?? false),
        }
      : null,
    needs: needsOf(view),
    endedAt: view.endedAt,
    updatedAt: latestChange(view),
  };
  if (online) entry.online = online;
  return entry;
}

/** The latest moment the viewer's view records: a change it saw, never one hidden from it. */
function latestChange(view: SessionView): number {
  let at = view.createdAt;
  const consider = (t: number | null | undefined) => {
    if (typeof t === "number" && t > at) at = t;
  };
  consider(view.step2OpenedAt);
  consider(view.step3OpenedAt);
  consider(view.endedAt);
  consider(view.mediator?.since);
  for (const m of view.members) consider(m.joinedAt);
  for (const m of view.messages) consider(m.at);
  for (const l of view.ledger) consider(l.recordedAt);
  for (const k of SIDES) consider(view.knocks[k]?.at);
  consider(view.numbers.own?.setAt);
  return at;
}

/**
 * Needs first (most urgent need first), then running sessions by their next deadline, then the rest by their
 * latest change, newest first.
 */
export function dashboardOrder(a: DashboardEntry, b: DashboardEntry): number {
  const urgency = (e: DashboardEntry) => (e.needs.length === 0 ? NEEDS.length : NEEDS.indexOf(e.needs[0]!));
  const running = (e: DashboardEntry) => (e.phase === "ended" ? 1 : 0);
  return (
    urgency(a) - urgency(b) ||
    running(a) - running(b) ||
    (a.nextDeadline?.at ?? Number.POSITIVE_INFINITY) - (b.nextDeadline?.at ?? Number.POSITIVE_INFINITY) ||
    b.updatedAt - a.updatedAt
  );
}
