// Realistic sessions for the client's unit tests, built with the shared engine and redaction, so the views and
// events here are exactly what the server would send each viewer.
import {
  DEFAULT_RULES,
  forBroadcast,
  projectEvent,
  projectStream,
  type Role,
  replay,
  type SessionEvent,
  type SessionEventPush,
  type SessionView,
  type SignedHeadWire,
  type VisibleEvent,
  viewState,
} from "@backchannel/common";

export const T0 = Date.UTC(2025, 0, 6, 14, 0, 0);
export const SESSION_ID = "6f1c1c52-6a0e-4a53-9d2b-0a4b8e3f1a10";
export const USERS = { claimant: "u-claire", respondent: "u-ray", mediator: "u-mia" } as const;
export const NAMES = {
  claimant: "Claire Claimant",
  respondent: "Ray Respondent",
  mediator: "Mia Mediator",
} as const;

export const RULES = { ...DEFAULT_RULES, step2DurationMs: 60_000, step3DurationMs: 3_600_000 };

/** Created by the claimant; respondent and mediator joined; both sides skipped the terms; Step 2 open. */
export function openedSession(): SessionEvent[] {
  let at = T0;
  const next = () => ++at;
  return [
    {
      type: "SessionCreated",
      at: T0,
      sessionId: SESSION_ID,
      title: "Smith v. Acme",
      createdBy: USERS.claimant,
      creatorName: NAMES.claimant,
      creatorRole: "claimant",
      rules: RULES,
      startAt: T0,
      termsText: "Release of all claims.",
    },
    {
      type: "InvitationIssued",
      at: next(),
      by: USERS.claimant,
      invitationId: "inv-r",
      role: "respondent",
      canBid: true,
      expiresAt: T0 + 86_400_000,
    },
    {
      type: "InvitationIssued",
      at: next(),
      by: USERS.claimant,
      invitationId: "inv-m",
      role: "mediator",
      canBid: false,
      expiresAt: T0 + 86_400_000,
    },
    {
      type: "MemberJoined",
      at: next(),
      userId: USERS.respondent,
      name: NAMES.respondent,
      role: "respondent",
      canBid: true,
      invitationId: "inv-r",
    },
    {
      type: "MemberJoined",
      at: next(),
      userId: USERS.mediator,
      name: NAMES.mediator,
      role: "mediator",
      canBid: false,
      invitationId: "inv-m",
    },
    { type: "TermsSkipped", at: next(), by: USERS.claimant, side: "claimant" },
    { type: "TermsSkipped", at: next(), by: USERS.respondent, side: "respondent" },
    { type: "Step1Closed", at: next(), how: "skipped", termsVersion: 1 },
    { type: "Step2Opened", at: next(), closesAt: T0 + 60_000, sessionEndsAt: T0 + 30 * 86_400_000 },
  ];
}

export function viewer(role: Role) {
  return { userId: USERS[role], role };
}

/** `role`'s stream position after `events`: how many of them it may see (never the global version). */
export function positionOf(events: SessionEvent[], role: Role): number {
  return projectStream(events, viewer(role)).positions[role];
}

/** A signed head as the server sends it; the client only keeps it, so any well-formed value will do here. */
export function headFor(role: Role, position: number): SignedHeadWire {
  return {
    sessionId: SESSION_ID,
    stream: role,
    position,
    head: position.toString(16).padStart(64, "0"),
    signature: "A".repeat(86),
    keyId: "0123456789abcdef",
  };
}

/** The snapshot `role` receives after `events` (session:open, or a sync that answers with a snapshot). */
export function snapshot(events: SessionEvent[], role: Role): SessionView {
  const last = events[events.length - 1]!;
  return viewState(replay(events), viewer(role), last.at, positionOf(events, role));
}

/** Event number `index` (0-based) of the log as a room push to `role`: redacted, no confidential amount. */
export function pushFor(events: SessionEvent[], index: number, role: Role): SessionEventPush | null {
  const synced = syncedFor(events, index, role);
  if (!synced) return null;
  const event = forBroadcast(synced.event);
  return { sessionId: SESSION_ID, version: synced.version, head: headFor(role, synced.version), event };
}

/** The same event as a sync answer delivers it to `role` (own-side amounts included), at its stream position. */
export function syncedFor(events: SessionEvent[], index: number, role: Role) {
  const state = replay(events.slice(0, index + 1));
  const visible = projectEvent(events[index]!, viewer(role), state);
  return visible ? { version: positionOf(events.slice(0, index + 1), role), event: visible } : null;
}

/** Every event of `role`'s stream after position `since`, like the server's sync. */
export function syncAnswer(events: SessionEvent[], since: number, role: Role) {
  const { stream, positions } = projectStream(events, viewer(role));
  const out: Array<{ version: number; event: VisibleEvent }> = stream.filter((e) => e.version > since);
  return { ok: true as const, version: positions[role], events: out, head: headFor(role, positions[role]) };
}
