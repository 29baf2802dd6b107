// Folds the events a viewer receives into its redacted snapshot (SessionView), the client-side twin of the
// engine's evolve. Pure: the store calls it for pushes and sync answers; the unit tests call it directly.
import type { LedgerItemState, SessionView, Side, VisibleEvent } from "@backchannel/common";
import { describeRules } from "@backchannel/common";

/** One event as this viewer received it, with its position in the viewer's stream. */
export interface LoggedEvent {
  version: number;
  event: VisibleEvent;
}

/** Everything the client holds about an open session. */
export interface SessionData {
  view: SessionView;
  /** the last version applied; pushes at or below it are duplicates */
  version: number;
  /** events received since the log began, oldest first (feeds the activity list and the number history) */
  log: LoggedEvent[];
  /** false when a snapshot replaced missing events, so the log has a hole before its latest entries */
  logComplete: boolean;
}

const MAX_LOG = 1_000;

function initialLedgerState(kind: "conveyed" | "bracket"): LedgerItemState {
  // As the engine: a bracket is first drafted with the mediator; a plain conveyed position is already conveyed.
  return kind === "bracket" ? "proposed" : "conveyed";
}

function without<T extends object>(record: T, key: keyof T): T {
  const copy = { ...record };
  delete copy[key];
  return copy;
}

/** The view after one visible event. Never mutates its input. */
export function applyEvent(view: SessionView, ev: VisibleEvent, version: number): SessionView {
  const v: SessionView = { ...view, version: Math.max(view.version, version) };
  switch (ev.type) {
    case "SessionCreated":
    case "Step2Closed":
    case "ReminderDue":
    case "MediatorRequested":
      return v;
    case "SetupUpdated":
      return {
        ...v,
        rules: ev.rules,
        rulesText: describeRules(ev.rules),
        startAt: ev.startAt,
        title: ev.title,
        // An approval or skip also accepted the rules and start: changing them withdraws every one (Step 1 reopens).
        terms: ev.approvalsWithdrawn ? { ...v.terms, approvals: {}, skipped: {}, closed: null } : v.terms,
      };
    case "InvitationIssued":
      if (v.invitations.some((i) => i.invitationId === ev.invitationId)) return v;
      return {
        ...v,
        invitations: [
          ...v.invitations,
          {
            invitationId: ev.invitationId,
            role: ev.role,
            canBid: ev.canBid,
            expiresAt: ev.expiresAt,
            usedBy: null,
            revoked: false,
          },
        ],
      };
    case "InvitationRevoked":
      return {
        ...v,
        invitations: v.invitations.map((i) =>
          i.invitationId === ev.invitationId ? { ...i, revoked: true } : i,
        ),
      };
    case "MemberJoined": {
      const members = v.members.filter((m) => m.userId !== ev.userId);
      members.push({ userId: ev.userId, name: ev.name, role: ev.role, canBid: ev.canBid, joinedAt: ev.at });
      members.sort((a, b) => a.joinedAt - b.joinedAt);
      return {
        ...v,
        members,
        invitations: v.invitations.map((i) =>
          i.invitationId === ev.invitationId ? { ...i, usedBy: ev.userId } : i,
        ),
      };
    }
    case "TermsEdited":
      return {
        ...v,
        terms: { ...v.terms, version: ev.version, text: ev.text, editedBy: ev.by, approvals: {} },
      };
    case "TermsApproved":
      return {
        ...v,
        terms: {
          ...v.terms,
          approvals: { ...v.terms.approvals, [ev.side]: ev.version },
          skipped: without(v.terms.skipped, ev.side),
        },
      };
    case "TermsSkipped":
      return {
        ...v,
        terms: {
          ...v.terms,
          skipped: { ...v.terms.skipped, [ev.side]: true },
          approvals: without(v.terms.approvals, ev.side),
        },
      };
    case "Step1Closed":
      return { ...v, terms: { ...v.terms, closed: ev.how } };
    case "Step2Opened":
      return {
        ...v,
        phase: "step2",
        step2OpenedAt: ev.at,
        deadlines: { ...v.deadlines, step2ClosesAt: ev.closesAt, sessionEndsAt: ev.sessionEndsAt },
      };
    case "NumberSet":
      return applyNumberSet(v, ev);
    case "Step3Opened":
      return {
        ...v,
        phase: "step3",
        step3OpenedAt: ev.at,
        deadlines: { ...v.deadlines, step3ClosesAt: ev.closesAt },
      };
    case "ProposalRequested":
      return {
        ...v,
        request: { requestId: ev.requestId, side: ev.side, consentBy: ev.consentBy },
        deadlines: { ...v.deadlines, requestConsentBy: ev.consentBy },
      };
    case "ProposalRequestDeclined":
    case "ProposalRequestLapsed":
    case "ProposalTooFarApart":
      return { ...v, request: null, deadlines: { ...v.deadlines, requestConsentBy: null } };
    case "SmartProposalMade": {
      const proposal: SessionView["proposal"] = {
        proposalId: ev.proposalId,
        kind: "smart",
        answerBy: ev.answerBy,
        answered: ownAnsweredFlag(v),
      };
      // Pushes never carry the amount; a sync answer does, for sides only.
      if (ev.amount !== undefined) proposal.amount = ev.amount;
      return {
        ...v,
        request: null,
        proposal,
        deadlines: { ...v.deadlines, requestConsentBy: null, proposalAnswerBy: ev.answerBy },
      };
    }
    case "MediatorProposalPut":
      return {
        ...v,
        proposal: {
          proposalId: ev.proposalId,
          kind: "mediator",
          answerBy: ev.answerBy,
          amount: ev.amount,
          answered: ownAnsweredFlag(v),
        },
        deadlines: { ...v.deadlines, proposalAnswerBy: ev.answerBy },
      };
    case "ProposalAnswered": {
      const p = v.proposal;
      if (!p || p.proposalId !== ev.proposalId) return v;
      const next = { ...p, answered: { ...p.answered, [ev.side]: true } };
      if (ev.accept !== undefined && ev.side === v.viewer.side) next.ownAnswer = ev.accept;
      return { ...v, proposal: next };
    }
    case "ProposalResolved":
      if (v.proposal && v.proposal.proposalId !== ev.proposalId) return v;
      return { ...v, proposal: null, deadlines: { ...v.deadlines, proposalAnswerBy: null } };
    case "DealMade":
      return {
        ...v,
        deal: {
          amount: ev.amount,
          source: ev.source,
          at: ev.at,
          bonusPercent: ev.bonusPercent,
          bonusSide: ev.bonusSide,
          termsVersion: ev.termsVersion,
        },
      };
    case "SessionEnded":
      return shredIfNoDeal({
        ...v,
        phase: "ended",
        outcome: ev.outcome,
        endedAt: ev.at,
        request: null,
        proposal: null,
        deadlines: { ...v.deadlines, requestConsentBy: null, proposalAnswerBy: null },
      });
    case "MediatorLocationSet":
      return { ...v, mediator: { location: ev.location, until: ev.until, note: ev.note, since: ev.at } };
    case "JointRoomOpened":
      return { ...v, jointRoomOpen: true };
    case "JointRoomClosed":
      return { ...v, jointRoomOpen: false };
    case "MessagePosted":
      if (v.messages.some((m) => m.messageId === ev.messageId)) return v;
      return {
        ...v,
        messages: [
          ...v.messages,
          { messageId: ev.messageId, room: ev.room, by: ev.by, text: ev.text, at: ev.at },
        ],
      };
    case "LedgerItemRecorded":
      if (v.ledger.some((l) => l.itemId === ev.itemId)) return v;
      return {
        ...v,
        ledger: [
          ...v.ledger,
          {
            itemId: ev.itemId,
            recordedAt: ev.at,
            recordedBy: ev.by,
            item: { ...ev.item },
            note: ev.note,
            counters: ev.counters,
            state: initialLedgerState(ev.item.kind),
            shared: ev.item.kind === "conveyed",
          },
        ],
      };
    case "LedgerItemUpdated": {
      // A bracket drafted on the other side arrives here first, when the mediator conveys it.
      const known = v.ledger.some((l) => l.itemId === ev.itemId);
      if (!known && ev.details) {
        return {
          ...v,
          ledger: [
            ...v.ledger,
            { ...ev.details, item: { ...ev.details.item }, state: ev.state, shared: ev.shared },
          ],
        };
      }
      return {
        ...v,
        ledger: v.ledger.map((l) =>
          l.itemId === ev.itemId ? { ...l, state: ev.state, shared: ev.shared } : l,
        ),
      };
    }
    default:
      // A type this client does not know (a newer server): it still moved the version.
      return v;
  }
}

/** As the server's snapshot: a side knows whether it answered; nobody learns whether the other side did. */
function ownAnsweredFlag(v: SessionView): Partial<Record<Side, boolean>> {
  return v.viewer.side === null ? {} : { [v.viewer.side]: false };
}

/** A session that ended without a deal destroys its numbers: the client forgets the ones it held too. */
function shredIfNoDeal(v: SessionView): SessionView {
  const own = v.numbers.own;
  if (v.outcome === "deal" || !own) return v;
  return {
    ...v,
    numbers: {
      ...v.numbers,
      own: { ...own, amount: null, history: own.history?.map((h) => ({ ...h, amount: null })) },
    },
  };
}

function scrubLog(data: SessionData): SessionData {
  if (data.view.phase !== "ended" || data.view.outcome === "deal") return data;
  if (!data.log.some((l) => l.event.type === "NumberSet" && l.event.amount != null)) return data;
  return {
    ...data,
    log: data.log.map((l) =>
      l.event.type === "NumberSet" && l.event.amount != null
        ? { ...l, event: { ...l.event, amount: null } }
        : l,
    ),
  };
}

function applyNumberSet(v: SessionView, ev: Extract<VisibleEvent, { type: "NumberSet" }>): SessionView {
  const numbers: SessionView["numbers"] = {
    ...v.numbers,
    [ev.side]: { entered: true, lastChangedAt: ev.at },
  };
  const own = v.numbers.own;
  if (own && own.side === ev.side) {
    numbers.own = {
      ...own,
      // A push has no amount: keep the last known one until the store refreshes it from the server.
      amount: ev.amount !== undefined ? ev.amount : own.amount,
      setAt: ev.at,
      setBy: ev.by,
      // Provisional until the refresh: a Step 3 change uses one of the day's changes.
      changesLeft: ev.step === 3 ? Math.max(0, own.changesLeft - 1) : own.changesLeft,
    };
  }
  return { ...v, numbers };
}

export function createSessionData(view: SessionView, version: number): SessionData {
  return { view: { ...view, version }, version, log: [], logComplete: version === 0 };
}

function appendLog(log: LoggedEvent[], entry: LoggedEvent): LoggedEvent[] {
  const next = [...log, entry];
  return next.length > MAX_LOG ? next.slice(next.length - MAX_LOG) : next;
}

export type PushOutcome =
  | { kind: "duplicate" }
  | { kind: "gap"; sinceVersion: number }
  | { kind: "applied"; data: SessionData };

/**
 * A live push. Positions count only what this viewer's role may see, so a jump means pushes were lost: the caller
 * then syncs from the last applied position, and the sync answer includes this push's event.
 */
export function receivePush(data: SessionData, push: LoggedEvent): PushOutcome {
  if (push.version <= data.version) return { kind: "duplicate" };
  if (push.version !== data.version + 1) return { kind: "gap", sinceVersion: data.version };
  return {
    kind: "applied",
    data: scrubLog({
      ...data,
      view: applyEvent(data.view, push.event, push.version),
      version: push.version,
      log: appendLog(data.log, push),
    }),
  };
}

export type SyncAnswer =
  | { version: number; events: LoggedEvent[] }
  | { version: number; snapshot: SessionView };

/**
 * A sync answer. Events past the last applied version are applied in order. Events at or below it fill in
 * what the push left out (a sync to one socket carries the own side's amounts): they replace the logged copy
 * and, for the pending smart proposal, its amount.
 */
export function applySync(data: SessionData, answer: SyncAnswer): SessionData {
  if ("snapshot" in answer) {
    if (answer.version < data.version) return data;
    return {
      view: { ...answer.snapshot, version: answer.version },
      version: answer.version,
      log: data.log,
      logComplete: data.logComplete && answer.version === data.version,
    };
  }
  let { view, log, version } = data;
  const sorted = [...answer.events].sort((a, b) => a.version - b.version);
  for (const entry of sorted) {
    if (entry.version > version) {
      view = applyEvent(view, entry.event, entry.version);
      version = entry.version;
      log = appendLog(log, entry);
    } else {
      log = log.map((l) => (l.version === entry.version ? entry : l));
      if (!log.some((l) => l.version === entry.version)) {
        log = [...log, entry].sort((a, b) => a.version - b.version);
      }
      view = enrich(view, entry.event);
    }
  }
  version = Math.max(version, answer.version);
  return scrubLog({ view: { ...view, version }, version, log, logComplete: data.logComplete });
}

function enrich(view: SessionView, ev: VisibleEvent): SessionView {
  if (
    ev.type === "SmartProposalMade" &&
    ev.amount !== undefined &&
    view.proposal?.proposalId === ev.proposalId &&
    view.proposal.amount === undefined
  ) {
    return { ...view, proposal: { ...view.proposal, amount: ev.amount } };
  }
  return view;
}

/** What to fetch after a push: pushes leave out what only this viewer may see. */
export interface FollowUp {
  /** GET /api/sessions/:id/number: the own side's number changed */
  refreshOwnNumber: boolean;
  /** sync from this version to receive the event with its amount (own number history, smart proposal) */
  refetchFrom: number | null;
}

export function followUpFor(view: SessionView, push: LoggedEvent): FollowUp {
  const side: Side | null = view.viewer.side;
  const ev = push.event;
  if (side === null) return { refreshOwnNumber: false, refetchFrom: null };
  if (ev.type === "NumberSet" && ev.side === side && ev.amount === undefined) {
    return { refreshOwnNumber: true, refetchFrom: push.version - 1 };
  }
  if (ev.type === "SessionEnded") return { refreshOwnNumber: true, refetchFrom: null };
  if (ev.type === "SmartProposalMade" && ev.amount === undefined) {
    return { refreshOwnNumber: false, refetchFrom: push.version - 1 };
  }
  return { refreshOwnNumber: false, refetchFrom: null };
}

/** Replaces the own number with what GET /number (or a SetNumber ack) returned. */
export function withOwnNumber(
  data: SessionData,
  own: Partial<NonNullable<SessionView["numbers"]["own"]>> | null,
): SessionData {
  const current = data.view.numbers.own;
  if (!own || !current) return data;
  // An answer that crossed a newer change on the wire must not roll the number back.
  if (own.setAt != null && current.setAt != null && own.setAt < current.setAt) return data;
  return {
    ...data,
    view: {
      ...data.view,
      numbers: { ...data.view.numbers, own: { ...current, ...own, side: current.side } },
    },
  };
}
