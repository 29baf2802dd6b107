// Redaction is one function family: everything a viewer is shown of a session passes through here.
// RULES.md "Visibility (who sees what)" is the table this file encodes; the gateway sends only its output.

import { changesLeft } from "./engine/bidding";
import { type Audience, audienceOf } from "./engine/rooms";
import type {
  Invitation,
  LedgerItem,
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
 * Who may see an invitation: the session's creator, whoever issued or revoked it, the mediators, and the
 * members of the side it invites. The other side learns of a new member only when they join.
 */
function seesInvitation(
  viewer: Viewer,
  invitedRole: Role | undefined,
  privileged: readonly string[],
): boolean {
  if (viewer.role === "mediator") return true;
  if (privileged.includes(viewer.userId)) return true;
  return invitedRole !== undefined && invitedRole === viewer.role;
}

/** What projectEvent needs from the session beyond the event itself; SessionState satisfies it. */
export interface ProjectionContext {
  createdBy: string;
  invitations: Readonly<Record<string, Pick<Invitation, "role">>>;
}

/**
 * Who receives an event at all, as rooms (sides, mediators) plus individual users. The gateway can use it to
 * pick rooms; projectEvent uses it to decide null, so the two cannot disagree.
 * InvitationRevoked names no role: without a context only the mediators and the revoker receive it.
 */
export function eventAudience(
  event: SessionEvent,
  context?: ProjectionContext,
): Audience & { users: string[] } {
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
      return { sides: [...SIDES], mediators: true, users: [] };
    case "ReminderDue":
      return { sides: [event.side], mediators: false, users: [] };
    // Double-blind: not even whether a side answered leaves it (at a deadline, it would show who did not accept).
    case "ProposalAnswered":
      return { sides: [event.side], mediators: false, users: [] };
    // The conveyed ledger is everyone's; a bracket still being drafted is its side's and the mediators' only.
    case "LedgerItemRecorded":
      return event.item.kind === "conveyed"
        ? { sides: [...SIDES], mediators: true, users: [] }
        : { sides: [event.item.from], mediators: true, users: [] };
    case "LedgerItemUpdated":
      return event.shared
        ? { sides: [...SIDES], mediators: true, users: [] }
        : { sides: [event.from], mediators: true, users: [] };
    case "MediatorRequested":
      return { sides: [event.side], mediators: true, users: [] };
    case "MessagePosted":
      return { sides: [...event.audience.sides], mediators: event.audience.mediators, users: [] };
    case "InvitationIssued":
    case "InvitationRevoked": {
      const role =
        event.type === "InvitationIssued" ? event.role : context?.invitations[event.invitationId]?.role;
      const users = [event.by];
      if (context && context.createdBy !== event.by) users.push(context.createdBy);
      return { sides: role === undefined || role === "mediator" ? [] : [role], mediators: true, users };
    }
    default: {
      // A type this version does not know (a newer writer): nobody sees it. A new type fails to compile here.
      const unknown: never = event;
      void unknown;
      return { sides: [], mediators: false, users: [] };
    }
  }
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
 * What `viewer` may see of `event`, or null when nothing. Pass the session (state) as `context` where it is at
 * hand: it places InvitationRevoked and lets the session's creator see invitations it did not issue.
 */
export function projectEvent(
  event: SessionEvent,
  viewer: Viewer,
  context?: ProjectionContext,
): VisibleEvent | null {
  const audience = eventAudience(event, context);
  if (!inAudience(audience, viewer) && !audience.users.includes(viewer.userId)) return null;
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
  role: Role;
  canBid: boolean;
  expiresAt: number;
  usedBy: string | null;
  revoked: boolean;
}

export interface SessionView {
  id: string;
  title: string;
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
  ledger: LedgerItemView[];
  messages: Message[];
  invitations: InvitationView[];
}

export type LedgerItemView = LedgerItem;

/** The redacted snapshot of a session for one viewer. */
export function viewState(state: SessionState, viewer: Viewer, now: number): SessionView {
  const side = viewerSide(viewer);
  const member = state.members[viewer.userId];
  const isCreator = state.createdBy === viewer.userId;

  const numbers: SessionView["numbers"] = {
    claimant: numberStatus(state, "claimant"),
    respondent: numberStatus(state, "respondent"),
  };
  if (side !== null) {
    const own = state.numbers[side];
    const limit = changesLeft(state, side, now);
    numbers.own = {
      side,
      amount: own?.amount ?? null,
      setAt: own?.setAt ?? null,
      setBy: own?.setBy ?? null,
      changesLeft: limit.left,
      nextChangeAt: limit.nextChangeAt,
    };
  }

  return {
    id: state.sessionId,
    title: state.title,
    version: state.version,
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
    ledger: state.ledger
      .filter((l) => l.shared || viewer.role === "mediator" || viewer.role === l.item.from)
      .map((l) => ({ ...l, item: { ...l.item } })),
    messages: state.messages.filter((m) => inAudience(audienceOf(m.room), viewer)).map((m) => ({ ...m })),
    invitations: Object.values(state.invitations)
      .filter((inv) => seesInvitation(viewer, inv.role, [state.createdBy]))
      .map((inv) => ({ ...inv })),
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
