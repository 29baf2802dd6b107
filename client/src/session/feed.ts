// The activity feed: each redacted event as a sentence ("Claimant updated their number (Ann Lee)").
// Built only from what this viewer received, so it can never say more than the viewer may know.
import type { LedgerItemView, MemberView, Side, VisibleEvent } from "@backchannel/common";

type LedgerEntry = LedgerItemView["item"];

import { formatAmount } from "@backchannel/common";
import { dealSourceWords, ledgerStateWords, locationPhrase, outcomeSentence, sideName } from "../lib/words";
import type { LoggedEvent } from "./reduce";

export type FeedTone = "info" | "number" | "deal" | "alert" | "ended";

export interface FeedItem {
  version: number;
  at: number;
  text: string;
  tone: FeedTone;
}

export interface FeedContext {
  members: readonly Pick<MemberView, "userId" | "name" | "role">[];
  viewer: { userId: string; side: Side | null };
  currency: string;
  /** formats a time of day for sentences ("2:30 PM") */
  clock: (at: number) => string;
  /** formats a deadline, its zone named ("2:30 PM EST"); the clock when not given */
  deadline?: (at: number) => string;
}

function nameOf(ctx: FeedContext, userId: string | null | undefined): string {
  if (!userId) return "someone";
  if (userId === ctx.viewer.userId) return "you";
  return ctx.members.find((m) => m.userId === userId)?.name ?? "a former participant";
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * The feed, newest first. `hasNumber` tracks which sides entered a number earlier in the log, so the first
 * entry reads "entered" and later ones "updated".
 */
export function buildFeed(log: readonly LoggedEvent[], ctx: FeedContext): FeedItem[] {
  const hasNumber = new Set<Side>();
  const ledger = new Map<string, LedgerEntry>();
  const items: FeedItem[] = [];
  for (const { version, event } of log) {
    if (event.type === "LedgerItemRecorded") ledger.set(event.itemId, event.item);
    if (event.type === "LedgerItemUpdated" && event.details) ledger.set(event.itemId, event.details.item);
    const described = describeEvent(event, ctx, hasNumber, ledger);
    if (event.type === "NumberSet") hasNumber.add(event.side);
    if (described) items.push({ version, at: event.at, ...described });
  }
  return items.reverse();
}

/** One event as a sentence, or null for events that are not activity (they show elsewhere). */
export function describeEvent(
  ev: VisibleEvent,
  ctx: FeedContext,
  sidesWithNumber: ReadonlySet<Side> = new Set(),
  ledger: ReadonlyMap<string, LedgerEntry> = new Map(),
): { text: string; tone: FeedTone } | null {
  const money = (cents: number) => formatAmount(cents, ctx.currency);
  const by = (userId: string | null | undefined) => nameOf(ctx, userId);
  const info = (text: string) => ({ text, tone: "info" as const });
  const deadline = ctx.deadline ?? ctx.clock;
  switch (ev.type) {
    case "SessionCreated":
      return info(`${capital(by(ev.createdBy))} created the session “${ev.title}”.`);
    case "SetupUpdated":
      return info(
        ev.approvalsWithdrawn
          ? `${capital(by(ev.by))} changed the session's rules or start time: every approval and skip of the terms is withdrawn, so both sides decide again.`
          : `${capital(by(ev.by))} changed the session's set-up (rules, start time or title).`,
      );
    case "InvitationIssued":
      return info(
        `${capital(by(ev.by))} created an invitation for ${ev.role === "mediator" ? "a mediator" : `the ${ev.role} side${ev.canBid ? "" : " (view only)"}`}.`,
      );
    case "InvitationRevoked":
      return info(`${capital(by(ev.by))} cancelled an invitation.`);
    case "MemberJoined":
      return info(
        `${ev.userId === ctx.viewer.userId ? "You" : ev.name} joined as ${ev.role === "mediator" ? "mediator" : `the ${ev.role} side${ev.canBid ? "" : " (view only)"}`}.`,
      );
    case "TermsEdited":
      return info(`${capital(by(ev.by))} edited the terms (now version ${ev.version}).`);
    case "TermsApproved":
      return info(`${sideName(ev.side)} approved terms version ${ev.version} (${by(ev.by)}).`);
    case "TermsSkipped":
      return info(`${sideName(ev.side)} chose to settle the terms later (${by(ev.by)}).`);
    case "Step1Closed":
      return info(
        ev.how === "approved"
          ? `Step 1 closed: both sides approved terms version ${ev.termsVersion}.`
          : "Step 1 closed: the terms will be settled later.",
      );
    case "Step2Opened":
      return info(`Step 2 opened: sealed numbers until ${deadline(ev.closesAt)}.`);
    case "NumberSet": {
      const verb = sidesWithNumber.has(ev.side) ? "updated" : "entered";
      if (ctx.viewer.side !== ev.side) {
        return { text: `${sideName(ev.side)} ${verb} their number (${by(ev.by)}).`, tone: "number" };
      }
      return { text: `${capital(by(ev.by))} ${verb} your side's number.`, tone: "number" };
    }
    case "Step2Closed":
      return ev.deal
        ? { text: "Step 2 closed: deal!", tone: "deal" }
        : info("Step 2 closed: no deal. Step 3 (live bidding) follows.");
    case "Step3Opened":
      return info(`Step 3 opened: live bidding until ${deadline(ev.closesAt)}.`);
    case "ReminderDue":
      return {
        text: `Reminder: your side has not entered a number. Step 2 closes at ${deadline(ev.closesAt)}.`,
        tone: "alert",
      };
    case "ProposalRequested":
      return info(
        `${sideName(ev.side)} asked for a smart proposal (${by(ev.by)}). The other side has until ${deadline(ev.consentBy)} to agree.`,
      );
    case "ProposalRequestDeclined":
      return info(`${sideName(ev.side)} declined the request for a smart proposal.`);
    case "ProposalRequestLapsed":
      return info("The request for a smart proposal lapsed without an answer.");
    case "ProposalTooFarApart":
      return info("Smart proposal: the numbers are too far apart. Bidding resumes.");
    case "SmartProposalMade":
      return info(`A smart proposal was made. Each side answers privately by ${deadline(ev.answerBy)}.`);
    case "MediatorProposalPut":
      return info(
        `${ev.by === ctx.viewer.userId ? "You" : "The mediator"} proposed ${money(ev.amount)}. Each side answers privately by ${deadline(ev.answerBy)}.`,
      );
    case "ProposalAnswered":
      // Only the answering side ever receives this event.
      if (ev.accept !== undefined && ev.side === ctx.viewer.side) {
        return info(`Your side ${ev.accept ? "accepted" : "rejected"} the proposal (${by(ev.by)}).`);
      }
      return null;
    case "ProposalResolved":
      return ev.accepted
        ? { text: "The proposal was accepted by both sides.", tone: "deal" }
        : info("The proposal was not accepted.");
    case "DealMade":
      return { text: `Deal at ${money(ev.amount)}, ${dealSourceWords(ev.source)}.`, tone: "deal" };
    case "SessionEnded":
      return { text: outcomeSentence(ev.outcome, ev.side), tone: ev.outcome === "deal" ? "deal" : "ended" };
    case "MediatorLocationSet": {
      const where = locationPhrase(ev.location, ctx.viewer.side, ev.until ? ctx.clock(ev.until) : null);
      return info(ev.by === ctx.viewer.userId ? `You are now ${where}.` : `The mediator is now ${where}.`);
    }
    case "MediatorRequested":
      return { text: `${sideName(ev.side)} asked for the mediator (${by(ev.by)}).`, tone: "alert" };
    case "JointRoomOpened":
      return info("The mediator opened the joint room.");
    case "JointRoomClosed":
      return info("The mediator closed the joint room.");
    case "MessagePosted":
      return null;
    case "LedgerItemRecorded":
      return info(
        ev.item.kind === "conveyed"
          ? `Conveyed: ${sideName(ev.item.from)} ${ev.item.from === "claimant" ? "demands" : "offers"} ${money(ev.item.amount)}.`
          : `Bracket from ${sideName(ev.item.from)}: “we go to ${money(ev.item.ourAmount)} if you go to ${money(ev.item.theirAmount)}”.`,
      );
    case "LedgerItemUpdated": {
      // Named as the viewer knows it: the item from the log (or the details that came with this update).
      const item = ev.details?.item ?? ledger.get(ev.itemId);
      return info(
        `${capital(ledgerItemName(item, ev.from, money))} is now ${ledgerStateWords(ev.state)} (${by(ev.by)}).`,
      );
    }
    default:
      return null;
  }
}

/**
 * A ledger item as the viewer sees it: "the claimant's demand of $150,000.00", "the respondent's bracket
 * ($120,000.00 if you go to $140,000.00)", or, for an item this viewer never saw recorded, "an item from the claimant".
 */
export function ledgerItemName(
  item: LedgerEntry | undefined,
  from: Side,
  money: (cents: number) => string,
): string {
  if (!item) return `an item from the ${from}`;
  if (item.kind === "conveyed")
    return `the ${item.from}'s conveyed ${item.from === "claimant" ? "demand" : "offer"} of ${money(item.amount)}`;
  return `the ${item.from}'s bracket (“we go to ${money(item.ourAmount)} if you go to ${money(item.theirAmount)}”)`;
}

/** The outcome of the last resolved proposal, for "The last proposal was not accepted". */
export function lastProposalOutcome(
  log: readonly LoggedEvent[],
): { accepted: boolean; kind: "smart" | "mediator"; at: number } | null {
  for (let i = log.length - 1; i >= 0; i--) {
    const ev = log[i]!.event;
    if (ev.type === "ProposalResolved") return { accepted: ev.accepted, kind: ev.kind, at: ev.at };
  }
  return null;
}

/** The own side's number changes, oldest first; amounts where this client received them. */
export function ownNumberHistory(
  log: readonly LoggedEvent[],
  side: Side,
): Array<{ at: number; by: string; step: 2 | 3; amount: number | null | undefined }> {
  const out: Array<{ at: number; by: string; step: 2 | 3; amount: number | null | undefined }> = [];
  for (const { event } of log) {
    if (event.type === "NumberSet" && event.side === side) {
      out.push({ at: event.at, by: event.by, step: event.step, amount: event.amount });
    }
  }
  return out;
}

/** How the other side's number moved, for "Respondent has entered a number / changed it at 10:42". */
export function sideActivity(
  log: readonly LoggedEvent[],
  side: Side,
): { changes: number; lastAt: number | null } {
  let changes = 0;
  let lastAt: number | null = null;
  for (const { event } of log) {
    if (event.type === "NumberSet" && event.side === side) {
      changes += 1;
      lastAt = event.at;
    }
  }
  return { changes, lastAt };
}
