// The client's half of redaction: a viewer's SessionView moved forward by the events of its own stream, so that it
// stays what viewState would give. evolve (engine/state.ts) folds the whole log into the state and viewState redacts
// it; here the redacted view is folded with the redacted events (VisibleEvent, from projectEvent) directly.
//
// It is exact but for what the event in hand does not carry (test/view-apply.property.test.ts says precisely):
// - a room push is in broadcast form: an own-side NumberSet has no amount (the view keeps the one it had), a smart
//   proposal has no amount (the view has none). A sync re-sends the event with them: completeVisibleEvent.
// - numbers.own.changesLeft / nextChangeAt count Step 3 changes in a rolling 24 hours: they move with the clock and
//   need the changes' times, which no view carries. Each own Step 3 change counts one down; GET /number is exact.

import { initialLedgerState, knocksAnswered, nextTerms } from "./engine/state";
import type { Side } from "./engine/types";
import { describeRules } from "./rules";
import type { InvitationView, SessionView, VisibleEvent } from "./visibility";

/**
 * The view after the event at `position` of the viewer's stream (the next one: the caller applies a stream in order,
 * without gaps or repeats). Never mutates its input. An event type it does not know moves only the position.
 */
export function applyVisibleEvent(view: SessionView, ev: VisibleEvent, position: number): SessionView {
  const v: SessionView = { ...view, version: Math.max(view.version, position) };
  switch (ev.type) {
    case "SessionCreated":
    case "Step2Closed":
    case "ReminderDue":
      return v;
    case "MediatorRequested":
      return { ...v, knocks: { ...v.knocks, [ev.side]: { at: ev.at, by: ev.by } } };
    case "SetupUpdated": {
      const own = v.numbers.own;
      return {
        ...v,
        rules: ev.rules,
        rulesText: describeRules(ev.rules),
        startAt: ev.startAt,
        title: ev.title,
        terms: nextTerms(v.terms, ev),
        // The daily limit may have changed; the changes already counted against it stay counted.
        numbers: own
          ? {
              ...v.numbers,
              own: {
                ...own,
                changesLeft: Math.max(
                  0,
                  ev.rules.maxChangesPerDay - (v.rules.maxChangesPerDay - own.changesLeft),
                ),
              },
            }
          : v.numbers,
      };
    }
    case "InvitationIssued": {
      // viewState copies the whole invitation, its issuer included.
      const invitation: InvitationView & { issuedBy: string } = {
        invitationId: ev.invitationId,
        issuedBy: ev.by,
        role: ev.role,
        canBid: ev.canBid,
        expiresAt: ev.expiresAt,
        usedBy: null,
        revoked: false,
      };
      return { ...v, invitations: [...v.invitations, invitation] };
    }
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
    case "TermsApproved":
    case "TermsSkipped":
    case "Step1Closed":
      return { ...v, terms: nextTerms(v.terms, ev) };
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
        answered: notAnswered(v),
      };
      // A push never carries the amount; a sync does, to the sides only.
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
          answered: notAnswered(v),
        },
        deadlines: { ...v.deadlines, proposalAnswerBy: ev.answerBy },
      };
    case "ProposalAnswered": {
      // Only the answering side receives this, with its answer.
      const p = v.proposal;
      if (!p || p.proposalId !== ev.proposalId) return v;
      const next = { ...p, answered: { ...p.answered, [ev.side]: true } };
      if (ev.accept !== undefined && ev.side === v.viewer.side) next.ownAnswer = ev.accept;
      return { ...v, proposal: next };
    }
    case "ProposalResolved":
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
      // Whatever was pending dies with the session.
      return shredIfNoDeal({
        ...v,
        phase: "ended",
        outcome: ev.outcome,
        endedAt: ev.at,
        request: null,
        proposal: null,
        knocks: {},
        deadlines: { ...v.deadlines, requestConsentBy: null, proposalAnswerBy: null },
      });
    case "MediatorLocationSet":
      return {
        ...v,
        mediator: { location: ev.location, until: ev.until, note: ev.note, since: ev.at },
        knocks: knocksAnswered(v.knocks, ev.location),
      };
    case "JointRoomOpened":
      return { ...v, jointRoomOpen: true };
    case "JointRoomClosed":
      return { ...v, jointRoomOpen: false };
    case "MessagePosted":
      return {
        ...v,
        messages: [
          ...v.messages,
          { messageId: ev.messageId, room: ev.room, by: ev.by, text: ev.text, at: ev.at },
        ],
      };
    case "LedgerItemRecorded":
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
            state: initialLedgerState(ev.item),
            shared: ev.item.kind === "conveyed",
          },
        ],
      };
    case "LedgerItemUpdated": {
      if (!v.ledger.some((l) => l.itemId === ev.itemId) && ev.details) {
        // A bracket drafted with the other side, seen for the first time now that it is conveyed. The ledger is in
        // the log's order: it goes after every item recorded before it (of items recorded in the same millisecond,
        // the client cannot know which came first, and puts it last).
        const entry = { ...ev.details, item: { ...ev.details.item }, state: ev.state, shared: ev.shared };
        const at = v.ledger.findIndex((l) => l.recordedAt > entry.recordedAt);
        const ledger = [...v.ledger];
        ledger.splice(at < 0 ? ledger.length : at, 0, entry);
        return { ...v, ledger };
      }
      return {
        ...v,
        ledger: v.ledger.map((l) =>
          l.itemId === ev.itemId ? { ...l, state: ev.state, shared: ev.shared } : l,
        ),
      };
    }
    default:
      // A type this version does not know (a newer server): it still moved the position.
      return v;
  }
}

/**
 * The view after a fuller copy of an event it has already applied: a sync re-sends, with the own side's amounts,
 * what a push carried in broadcast form. Fills in the own number's amount (if that change is still the latest) and
 * the pending smart proposal's amount; anything else is already in the view.
 */
export function completeVisibleEvent(view: SessionView, ev: VisibleEvent): SessionView {
  if (
    ev.type === "SmartProposalMade" &&
    ev.amount !== undefined &&
    view.proposal?.proposalId === ev.proposalId &&
    view.proposal.amount === undefined
  ) {
    return { ...view, proposal: { ...view.proposal, amount: ev.amount } };
  }
  const own = view.numbers.own;
  if (
    ev.type === "NumberSet" &&
    ev.amount !== undefined &&
    own?.side === ev.side &&
    own.setAt === ev.at &&
    own.setBy === ev.by &&
    // A crossed answer from before the session ended without a deal must not bring a destroyed number back.
    !(view.phase === "ended" && view.outcome !== "deal")
  ) {
    return { ...view, numbers: { ...view.numbers, own: { ...own, amount: ev.amount } } };
  }
  return view;
}

/** As viewState: a side knows whether it answered; nobody learns whether the other side did. */
function notAnswered(v: SessionView): Partial<Record<Side, boolean>> {
  return v.viewer.side === null ? {} : { [v.viewer.side]: false };
}

/** A session that ended without a deal destroys its numbers: the view forgets the own one too. */
function shredIfNoDeal(v: SessionView): SessionView {
  const own = v.numbers.own;
  if (v.outcome === "deal" || !own) return v;
  const history = own.history?.map((h) => ({ ...h, amount: null }));
  return { ...v, numbers: { ...v.numbers, own: { ...own, amount: null, ...(history ? { history } : {}) } } };
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
      // A push has no amount: the view keeps the last known one until a sync or GET /number brings it.
      amount: ev.amount !== undefined ? ev.amount : own.amount,
      setAt: ev.at,
      setBy: ev.by,
      // A Step 3 change uses one of the day's changes (see the header).
      changesLeft: ev.step === 3 ? Math.max(0, own.changesLeft - 1) : own.changesLeft,
    };
  }
  return { ...v, numbers };
}
