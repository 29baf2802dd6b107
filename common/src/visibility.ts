// Redaction is one function family: everything a viewer is shown of a session passes through here.
// RULES.md "Visibility (who sees what)" is the table this file encodes; the gateway sends only its output.

import { changesLeft } from "./engine/bidding";
import { type Audience, audienceOf } from "./engine/rooms";
import { evolve } from "./engine/state";
import type {
  Invitation,
  LedgerItem,
  Member,
  Message,
  Outcome,
  Phase,
  Role,
  RoomId,
  SessionEvent,
  SessionState,
  Side,
} from "./engine/types";
import { SIDES } from "./engine/types";
import type { Cents } from "./money";
import type { SessionRules } from "./rules";
import { describeRules } from "./rules";

export interface Viewer {
  userId: string;
  role: Role;
}

/** The side a viewer speaks for, or null for a mediator. */
export function viewerSide(viewer: Viewer): Side | null {
  return viewer.role === "mediator" ? null : viewer.role;
}

// ---------------------------------------------------------------- audiences

function inAudience(audience: Audience, viewer: Viewer): boolean {
  const side = viewerSide(viewer);
  return side === null ? audience.mediators : audience.sides.includes(side);
}

/** Whether a viewer may post in a room: exactly its readers (whether the joint room is open is the engine's call). */
export function canPostIn(room: RoomId, viewer: Viewer): boolean {
  return inAudience(audienceOf(room), viewer);
}

/**
 * Which roles see an invitation: the mediators, the side it invites, and the sides of whoever issued it and of the
 * session's creator. Visibility is by role, never by person, so every member of a role shares one stream of events
 * (and one sequence of positions). The other side learns of a new member only when they join.
 */
function invitationRoles(
  invitedRole: Role | undefined,
  issuedBy: string | undefined,
  context: ProjectionContext | undefined,
): Role[] {
  const roles = new Set<Role>(["mediator"]);
  if (invitedRole !== undefined) roles.add(invitedRole);
  for (const userId of [issuedBy, context?.createdBy]) {
    const role = userId === undefined ? undefined : context?.members[userId]?.role;
    if (role !== undefined) roles.add(role);
  }
  return [...roles];
}

/** What projectEvent needs from the session beyond the event itself; SessionState satisfies it. */
export interface ProjectionContext {
  createdBy: string;
  members: Readonly<Record<string, Pick<Member, "role">>>;
  invitations: Readonly<Record<string, Pick<Invitation, "role" | "issuedBy">>>;
}

/**
 * Who receives an event at all, as roles (the sides and the mediators). The publisher picks rooms with it and the
 * log numbers each role's stream with it; projectEvent uses it to decide null, so none of them can disagree.
 * Pass the session (state after the event) as `context`: it places invitations by their issuer and invited role.
 */
export function eventAudience(event: SessionEvent, context?: ProjectionContext): Audience {
  switch (event.type) {
    case "SessionCreated":
    case "SetupUpdated":
    case "MemberJoined":
    case "TermsEdited":
    case "TermsApproved":
    case "TermsSkipped":
    case "Step1Closed":
    case "Step2Opened":
    case "BidSet":
    case "Step2Closed":
    case "Step3Opened":
    case "ProposalRequested":
    case "ProposalRequestDeclined":
    case "ProposalRequestLapsed":
    case "ProposalTooFarApart":
    case "SmartProposalMade":
    case "MediatorProposalPut":
    case "ProposalResolved":
    case "DealMade":
    case "SessionEnded":
    case "MediatorLocationSet":
    case "JointRoomOpened":
    case "JointRoomClosed":
      // Everyone receives these; projectEvent still redacts the confidential parts of some.
      return { sides: [...SIDES], mediators: true };
    case "ReminderDue":
      return { sides: [event.side], mediators: false };
    // Double-blind: not even whether a side answered leaves it (at a deadline, it would show who did not accept).
    case "ProposalAnswered":
      return { sides: [event.side], mediators: false };
    // The conveyed ledger is everyone's; a bracket still being drafted is its side's and the mediators' only.
    case "LedgerItemRecorded":
      return event.item.kind === "conveyed"
        ? { sides: [...SIDES], mediators: true }
        : { sides: [event.item.from], mediators: true };
    case "LedgerItemUpdated":
      return event.shared ? { sides: [...SIDES], mediators: true } : { sides: [event.from], mediators: true };
    case "MediatorRequested":
      return { sides: [event.side], mediators: true };
    case "MessagePosted":
      return { sides: [...event.audience.sides], mediators: event.audience.mediators };
    case "InvitationIssued":
    case "InvitationRevoked": {
      const invitation =
        event.type === "InvitationRevoked" ? context?.invitations[event.invitationId] : undefined;
      const role = event.type === "InvitationIssued" ? event.role : invitation?.role;
      const roles = invitationRoles(role, event.by, context);
      if (invitation) for (const r of invitationRoles(role, invitation.issuedBy, context)) roles.push(r);
      return { sides: SIDES.filter((s) => roles.includes(s)), mediators: true };
    }
    default: {
      // A type this version does not know (a newer writer): nobody sees it. A new type fails to compile here.
      const unknown: never = event;
      void unknown;
      return { sides: [], mediators: false };
    }
  }
}

/** The streams an event belongs to: one per role that sees it, in a fixed order. */
export function eventStreams(event: SessionEvent, context?: ProjectionContext): Role[] {
  const audience = eventAudience(event, context);
  const roles: Role[] = SIDES.filter((s) => audience.sides.includes(s));
  if (audience.mediators) roles.push("mediator");
  return roles;
}

// ---------------------------------------------------------------- visible events

/**
 * BidSet as a viewer sees it. `amount` is present only in the direct delivery to the number's own side
 * (an ack, a sync, a snapshot); other viewers and every room push get the shape with no amount key at all.
 */
export interface NumberSetView {
  type: "NumberSet";
  side: Side;
  by: string;
  step: 2 | 3;
  at: number;
  /** own side only; null once shredded */
  amount?: Cents | null;
}

/** A smart proposal. `amount` goes to both sides (never in a room push); the mediator never gets it. */
export interface SmartProposalView {
  type: "SmartProposalMade";
  requestId: string;
  proposalId: string;
  answerBy: number;
  /** the member of the other side whose consent led to the proposal */
  consentedBy: string;
  at: number;
  /** sides only; null once shredded */
  amount?: Cents | null;
}

/** An answer, seen only by the answering side (who answered and how); nobody else learns of it. */
export interface ProposalAnsweredView {
  type: "ProposalAnswered";
  proposalId: string;
  side: Side;
  at: number;
  /** own side only */
  by?: string;
  /** own side only */
  accept?: boolean;
}

type RedactedType = "BidSet" | "SmartProposalMade" | "ProposalAnswered";

/** Events every permitted viewer sees unchanged. */
export type PlainVisibleEvent = Exclude<SessionEvent, { type: RedactedType }>;

export type VisibleEvent = PlainVisibleEvent | NumberSetView | SmartProposalView | ProposalAnsweredView;

/** What a room push may carry: every confidential amount removed, by type. Assignable to VisibleEvent. */
export type BroadcastEvent =
  | Exclude<VisibleEvent, NumberSetView | SmartProposalView>
  | (Omit<NumberSetView, "amount"> & { amount?: never })
  | (Omit<SmartProposalView, "amount"> & { amount?: never });

/**
 * What `viewer` may see of `event`, or null when nothing. It depends only on the viewer's role, so every member of
 * a role sees the same stream. Pass the session (state after the event) as `context`: it places invitations.
 */
export function projectEvent(
  event: SessionEvent,
  viewer: Viewer,
  context?: ProjectionContext,
): VisibleEvent | null {
  if (!inAudience(eventAudience(event, context), viewer)) return null;
  const side = viewerSide(viewer);
  switch (event.type) {
    case "BidSet": {
      const view: NumberSetView = {
        type: "NumberSet",
        side: event.side,
        by: event.by,
        step: event.step,
        at: event.at,
      };
      if (side === event.side) view.amount = event.amount;
      return view;
    }
    case "SmartProposalMade": {
      const view: SmartProposalView = {
        type: "SmartProposalMade",
        requestId: event.requestId,
        proposalId: event.proposalId,
        answerBy: event.answerBy,
        consentedBy: event.consentedBy,
        at: event.at,
      };
      // The amount lies in the middle of the gap, so it hints at both numbers: sides only.
      if (side !== null) view.amount = event.amount;
      return view;
    }
    case "ProposalAnswered": {
      const view: ProposalAnsweredView = {
        type: "ProposalAnswered",
        proposalId: event.proposalId,
        side: event.side,
        at: event.at,
      };
      if (side === event.side) {
        view.by = event.by;
        view.accept = event.accept;
      }
      return view;
    }
    default:
      return copyPlain(event);
  }
}

function copyPlain(event: PlainVisibleEvent): PlainVisibleEvent {
  // Shallow copies of nested plain data, so a consumer mutating its view never reaches the state.
  switch (event.type) {
    case "SessionCreated":
    case "SetupUpdated":
      return { ...event, rules: { ...event.rules } };
    case "LedgerItemRecorded":
      return { ...event, item: { ...event.item } };
    case "LedgerItemUpdated":
      return event.details
        ? { ...event, details: { ...event.details, item: { ...event.details.item } } }
        : { ...event };
    default:
      return { ...event };
  }
}

/** The form of a visible event that may travel through a room (and so through Redis): no confidential amount. */
export function forBroadcast(ev: VisibleEvent): BroadcastEvent {
  switch (ev.type) {
    case "NumberSet":
      return { type: "NumberSet", side: ev.side, by: ev.by, step: ev.step, at: ev.at };
    case "SmartProposalMade":
      return {
        type: "SmartProposalMade",
        requestId: ev.requestId,
        proposalId: ev.proposalId,
        answerBy: ev.answerBy,
        consentedBy: ev.consentedBy,
        at: ev.at,
      };
    default:
      return ev;
  }
}

/** Last-line check for the gateway: true when a visible event still holds a confidential amount key. */
export function carriesConfidentialAmount(ev: object): boolean {
  const type = (ev as { type?: unknown }).type;
  return (type === "NumberSet" || type === "SmartProposalMade" || type === "BidSet") && "amount" in ev;
}

// ---------------------------------------------------------------- streams

/** How many events of a session each role has seen: the positions of its three streams. */
export type StreamPositions = Record<Role, number>;

export const NO_POSITIONS: Readonly<StreamPositions> = Object.freeze({
  claimant: 0,
  respondent: 0,
  mediator: 0,
});

/**
 * One role's stream of a session: every event that role may see, numbered 1, 2, 3, ... whatever was hidden from it.
 * This is the reference the server's stored positions are checked against; the server numbers as it appends.
 */
export function projectStream(
  events: readonly SessionEvent[],
  viewer: Viewer,
): { positions: StreamPositions; stream: Array<{ version: number; event: VisibleEvent }> } {
  const positions: StreamPositions = { ...NO_POSITIONS };
  const stream: Array<{ version: number; event: VisibleEvent }> = [];
  let state: SessionState | null = null;
  for (const event of events) {
    state = evolve(state, event);
    for (const role of eventStreams(event, state)) positions[role] += 1;
    const visible = projectEvent(event, viewer, state);
    if (visible) stream.push({ version: positions[viewer.role], event: visible });
  }
  return { positions, stream };
}

// ---------------------------------------------------------------- snapshot

export interface MemberView {
  userId: string;
  name: string;
  role: Role;
  canBid: boolean;
  joinedAt: number;
}

export interface SideNumberStatus {
  entered: boolean;
  lastChangedAt: number | null;
}

export interface OwnNumberView {
  side: Side;
  /** null when not entered yet, or shredded after a session ended without a deal */
  amount: Cents | null;
  setAt: number | null;
  setBy: string | null;
  /** Step 3 changes still allowed in the rolling 24 hours */
  changesLeft: number;
  /** when the oldest change in the window drops out, if the limit is reached */
  nextChangeAt: number | null;
  /** Not kept in the state; the server may fill it from the session's log for the own side only. */
  history?: Array<{ amount: Cents | null; at: number; by: string; step: 2 | 3 }>;
}

export interface ProposalView {
  proposalId: string;
  kind: "smart" | "mediator";
  answerBy: number;
  /** mediator proposals: everyone; smart proposals: sides only (absent for the mediator) */
  amount?: Cents | null;
  /** whether the viewer's own side has answered (sides only): nobody learns whether the other side did */
  answered: Partial<Record<Side, boolean>>;
  /** the viewer's own side's answer, if it answered; sides only */
  ownAnswer?: boolean;
}

export interface InvitationView {
  invitationId: string;
  /** who issued it: viewState copies the invitation whole (protocol.md section 8 lists it) */
  issuedBy?: string;
  role: Role;
  canBid: boolean;
  expiresAt: number;
  usedBy: string | null;
  revoked: boolean;
}

export interface SessionView {
  id: string;
  title: string;
  /** the viewer's stream position: the count of this session's events its role has seen (never the global version) */
  version: number;
  phase: Phase;
  outcome: Outcome | null;
  createdBy: string;
  createdAt: number;
  viewer: { userId: string; role: Role; side: Side | null; canBid: boolean; isCreator: boolean };
  rules: SessionRules;
  /** the rules in plain sentences, shown before anyone bids */
  rulesText: string[];
  startAt: number;
  step2OpenedAt: number | null;
  step3OpenedAt: number | null;
  deadlines: {
    step2ClosesAt: number | null;
    step3ClosesAt: number | null;
    sessionEndsAt: number | null;
    requestConsentBy: number | null;
    proposalAnswerBy: number | null;
  };
  members: MemberView[];
  terms: SessionState["terms"];
  numbers: Record<Side, SideNumberStatus> & { own?: OwnNumberView };
  request: { requestId: string; side: Side; consentBy: number } | null;
  proposal: ProposalView | null;
  deal: SessionState["deal"];
  endedAt: number | null;
  jointRoomOpen: boolean;
  /** raw location; the client shows "with_<own side>" as "with you" */
  mediator: SessionState["mediator"];
  /** unanswered requests for the mediator: every side's for a mediator, a side's own for its members */
  knocks: SessionState["knocks"];
  ledger: LedgerItemView[];
  messages: Message[];
  invitations: InvitationView[];
}

export type LedgerItemView = LedgerItem;

/**
 * The redacted snapshot of a session for one viewer. `position` is the viewer's stream position (how many events of
 * the session its role has seen): the global version never leaves the server, since its gaps would show hidden events.
 */
export function viewState(state: SessionState, viewer: Viewer, now: number, position: number): SessionView {
  const side = viewerSide(viewer);
  const member = state.members[viewer.userId];
  const isCreator = state.createdBy === viewer.userId;

  const numbers: SessionView["numbers"] = {
    claimant: numberStatus(state, "claimant"),
    respondent: numberStatus(state, "respondent"),
  };
  if (side !== null) numbers.own = ownNumberView(state, side, now);

  return {
    id: state.sessionId,
    title: state.title,
    version: position,
    phase: state.phase,
    outcome: state.outcome,
    createdBy: state.createdBy,
    createdAt: state.createdAt,
    viewer: { userId: viewer.userId, role: viewer.role, side, canBid: member?.canBid ?? false, isCreator },
    rules: { ...state.rules },
    rulesText: describeRules(state.rules),
    startAt: state.startAt,
    step2OpenedAt: state.step2OpenedAt,
    step3OpenedAt: state.step3OpenedAt,
    deadlines: {
      step2ClosesAt: state.step2ClosesAt,
      step3ClosesAt: state.step3ClosesAt,
      sessionEndsAt: state.sessionEndsAt,
      requestConsentBy: state.request?.consentBy ?? null,
      proposalAnswerBy: state.proposal?.answerBy ?? null,
    },
    members: Object.values(state.members)
      .map((m) => ({ userId: m.userId, name: m.name, role: m.role, canBid: m.canBid, joinedAt: m.joinedAt }))
      .sort((a, b) => a.joinedAt - b.joinedAt),
    terms: {
      version: state.terms.version,
      text: state.terms.text,
      editedBy: state.terms.editedBy,
      approvals: { ...state.terms.approvals },
      skipped: { ...state.terms.skipped },
      closed: state.terms.closed,
    },
    numbers,
    request: state.request
      ? { requestId: state.request.requestId, side: state.request.side, consentBy: state.request.consentBy }
      : null,
    proposal: proposalView(state, side),
    deal: state.deal ? { ...state.deal } : null,
    endedAt: state.endedAt,
    jointRoomOpen: state.jointRoomOpen,
    mediator: state.mediator ? { ...state.mediator } : null,
    knocks: Object.fromEntries(
      SIDES.filter((s) => side === null || s === side).flatMap((s) => {
        const k = state.knocks[s];
        return k ? [[s, { ...k }]] : [];
      }),
    ),
    ledger: state.ledger
      .filter((l) => l.shared || viewer.role === "mediator" || viewer.role === l.item.from)
      .map((l) => ({ ...l, item: { ...l.item } })),
    messages: state.messages.filter((m) => inAudience(audienceOf(m.room), viewer)).map((m) => ({ ...m })),
    invitations: Object.values(state.invitations)
      .filter((inv) => invitationRoles(inv.role, inv.issuedBy, state).includes(viewer.role))
      .map((inv) => ({ ...inv })),
  };
}

/**
 * A side's own number as its members see it (the snapshot's `numbers.own`), without building the rest of the view:
 * what a SetNumber ack carries.
 */
export function ownNumberView(state: SessionState, side: Side, now: number): OwnNumberView {
  const own = state.numbers[side];
  const limit = changesLeft(state, side, now);
  return {
    side,
    amount: own?.amount ?? null,
    setAt: own?.setAt ?? null,
    setBy: own?.setBy ?? null,
    changesLeft: limit.left,
    nextChangeAt: limit.nextChangeAt,
  };
}

function numberStatus(state: SessionState, side: Side): SideNumberStatus {
  const n = state.numbers[side];
  return { entered: n !== undefined, lastChangedAt: n?.setAt ?? null };
}

function proposalView(state: SessionState, side: Side | null): ProposalView | null {
  const p = state.proposal;
  if (!p) return null;
  const view: ProposalView = {
    proposalId: p.proposalId,
    kind: p.kind,
    answerBy: p.answerBy,
    answered: side === null ? {} : { [side]: p.answers[side] !== undefined },
  };
  if (p.kind === "mediator" || side !== null) view.amount = p.amount;
  if (side !== null && p.answers[side] !== undefined) view.ownAnswer = p.answers[side];
  return view;
}
