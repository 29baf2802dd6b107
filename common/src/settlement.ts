// The settlement: what a deal's documents say. Pure (no I/O), shared by the web client's summary, the deal mail and
// the PDF. Starts with how the terms mark the place of the amount.

import type { DealSource, Role, SessionState } from "./engine/types";
import { formatAmount } from "./money";
import type { SessionRules } from "./rules";
import { describeRules } from "./rules";
import type { MemberView } from "./visibility";

/**
 * A blank in the terms, where the settlement amount goes: three or more underscores, optionally after a currency
 * sign "$" ("$_____", "_____"). The terms editor shows it while editing; at a deal the amount fills it.
 */
export const TERMS_BLANK = /\$?_{3,}/g;

/** What the terms editor suggests typing for the amount's place. */
export const TERMS_BLANK_EXAMPLE = "$_____";

/** Whether terms mark a place for the amount. */
export function hasTermsBlank(terms: string): boolean {
  return new RegExp(TERMS_BLANK.source).test(terms);
}

/** Fills each blank of the terms with the amount; with no blank, the amount is appended on its own line. */
export function fillTermsBlank(terms: string, amount: string): string {
  if (!hasTermsBlank(terms)) return `${terms.trimEnd()}${terms.trim() ? "\n" : ""}Amount: ${amount}`;
  return terms.replace(new RegExp(TERMS_BLANK.source, "g"), () => amount);
}

// ---------------------------------------------------------------- the settlement summary

/** What a settlement summary is built from: the parts of a member's SessionView it may read, and nothing else. */
export interface SettlementSource {
  title: string;
  deal: SessionState["deal"];
  members: ReadonlyArray<Pick<MemberView, "name" | "role" | "joinedAt">>;
  terms: Pick<SessionState["terms"], "text" | "version">;
  rules: SessionRules;
  /** the rules in plain sentences (SessionView.rulesText); describeRules(rules) when absent */
  rulesText?: readonly string[];
  startAt: number;
}

/** A signed stream head the reader holds (the client's own stream, client/src/session/heads.ts). */
export interface SettlementAuditHead {
  stream: Role;
  position: number;
  /** the stream's hash-chain head, 64 hex digits */
  head: string;
}

export interface SettlementSummary {
  title: string;
  /** the deal amount, formatted in the session's currency */
  amount: string;
  /** the session's currency, ISO 4217 ("USD") */
  currency: string;
  source: DealSource;
  /** how the deal was made, in words */
  how: string;
  /** the Step 3 early-number bonus the amount includes, or null */
  bonus: string | null;
  /** when the deal was made, in words (UTC) */
  when: string;
  at: number;
  /** when the session started, in words (UTC) */
  started: string;
  parties: Array<{ name: string; role: Role; roleLabel: string }>;
  terms: {
    /** agreed: both sides approved `version`; later: the sides left the terms to settle later (not approved) */
    status: "agreed" | "later";
    version: number | null;
    heading: string;
    /** the terms with each blank filled with the amount (or the amount appended when they have none) */
    text: string;
    /** whether the terms had a blank the amount went into */
    hadBlank: boolean;
  };
  rules: string[];
  audit: { label: string; hash: string } | null;
}

export const SETTLEMENT_ROLE_LABEL: Readonly<Record<Role, string>> = Object.freeze({
  claimant: "Claimant",
  respondent: "Respondent",
  mediator: "Mediator",
});

export const DEAL_SOURCE_LABEL: Readonly<Record<DealSource, string>> = Object.freeze({
  step2: "Step 2: the two sealed numbers met at the Step 2 deadline",
  step3: "Step 3: live bidding, when one side's change met the other side's number",
  smart_proposal: "a smart proposal that both sides accepted",
  mediator_proposal: "the mediator's proposal, accepted by both sides",
});

const SETTLEMENT_DATE_FORMAT = new Intl.DateTimeFormat("en-US", {
  dateStyle: "full",
  timeStyle: "short",
  timeZone: "UTC",
});

/** "Monday, January 4, 2027 at 9:00 AM UTC": a document's time, the same for every reader wherever they are. */
export function settlementTime(ms: number): string {
  return `${SETTLEMENT_DATE_FORMAT.format(ms)} UTC`;
}

/**
 * The content of a deal's settlement summary, for the web page, the PDF and the deal mail alike, from what any member
 * sees (pass a SessionView). It reads only the deal, title, members, terms, rules and start: never a side's number
 * or a proposal. Null before a deal. Text is returned as typed: escaping is each renderer's job.
 */
export function settlementSummary(
  source: SettlementSource,
  audit?: SettlementAuditHead | null,
): SettlementSummary | null {
  const deal = source.deal;
  if (!deal) return null;
  const currency = source.rules.currency;
  const amount = formatAmount(deal.amount, currency);
  const agreed = deal.termsVersion !== null;
  return {
    title: source.title,
    amount,
    currency,
    source: deal.source,
    how: DEAL_SOURCE_LABEL[deal.source],
    bonus:
      deal.bonusPercent > 0 && deal.bonusSide
        ? `The amount includes the ${deal.bonusPercent}% early-number bonus in favour of the ${deal.bonusSide}.`
        : null,
    when: settlementTime(deal.at),
    at: deal.at,
    started: settlementTime(source.startAt),
    parties: [...source.members]
      .sort((a, b) => a.joinedAt - b.joinedAt)
      .map((m) => ({ name: m.name, role: m.role, roleLabel: SETTLEMENT_ROLE_LABEL[m.role] })),
    terms: {
      status: agreed ? "agreed" : "later",
      version: deal.termsVersion,
      heading: agreed
        ? `The agreed terms (version ${deal.termsVersion}), with the amount filled in:`
        : "The sides left the terms to settle later. The last draft, with the amount filled in (not approved):",
      text: fillTermsBlank(source.terms.text, amount),
      hadBlank: hasTermsBlank(source.terms.text),
    },
    rules: [...(source.rulesText ?? describeRules(source.rules))],
    audit: audit
      ? { label: `Audit record head (your role's stream, position ${audit.position})`, hash: audit.head }
      : null,
  };
}

/** The summary as plain-text lines (the deal mail's text part). */
export function settlementTextLines(s: SettlementSummary): string[] {
  return [
    `Settlement amount: ${s.amount}`,
    `How: ${s.how}.`,
    ...(s.bonus ? [s.bonus] : []),
    `When: ${s.when}`,
    "",
    "Parties:",
    ...s.parties.map((p) => `- ${p.name} (${p.roleLabel})`),
    "",
    s.terms.heading,
    "",
    ...s.terms.text.split(/\r\n|\r|\n/).map((line) => `  ${line}`),
    "",
    "The rules of the session:",
    ...s.rules.map((r) => `- ${r}`),
    ...(s.audit ? ["", `${s.audit.label}: ${s.audit.hash}`] : []),
  ];
}
