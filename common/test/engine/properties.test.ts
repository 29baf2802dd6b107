// Invariants over random sessions: random commands from random members at random times, Ticks included.
// FC_SEED replays a failure (fast-check prints the seed); FC_RUNS sets the number of runs.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SessionEvent, SessionState } from "../../src/engine";
import { commandSchema, decide, evolve, openDeadlines, replay } from "../../src/engine";
import { applyBonus, dealAmount, gapTooWide } from "../../src/matching";
import type { Random } from "../../src/random";
import type { DecisionRecord } from "./arbitrary";
import { planArbitrary, propertyParameters, runPlan } from "./arbitrary";

const HEAVY_RUNS = 300;
// FC_RUNS can ask for many thousands of runs; the default runs take about a second each.
const TIMEOUT_MS = 10 * 60_000;

/** Replays recorded draws, so a deal's bonus-free amount can be recomputed exactly. */
function replayRandom(draws: DecisionRecord["draws"]): Random {
  let index = 0;
  return {
    int(min, max) {
      const draw = draws[index++];
      if (!draw || draw.min !== min || draw.max !== max) throw new Error("the decision drew differently");
      return draw.value;
    },
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** The state right before `event` within a decision's events. */
function stateBefore(record: DecisionRecord, event: SessionEvent): SessionState {
  let state = record.before;
  if (!record.decision.ok) throw new Error("not a decision with events");
  for (const e of record.decision.events) {
    if (e === event) break;
    state = evolve(state, e);
  }
  if (!state) throw new Error("no state before the event");
  return state;
}

function checkDeal(record: DecisionRecord, deal: Extract<SessionEvent, { type: "DealMade" }>): void {
  const before = stateBefore(record, deal);
  const currency = before.rules.currency;
  if (deal.source === "smart_proposal" || deal.source === "mediator_proposal") {
    // Proposals: the proposed amount, never a bonus.
    expect(deal.bonusPercent).toBe(0);
    expect(deal.bonusSide).toBeNull();
    // The proposal was pending when the decision began (its resolution event clears it).
    const proposal = record.before?.proposal;
    expect(proposal?.kind).toBe(deal.source === "smart_proposal" ? "smart" : "mediator");
    expect(deal.amount).toBe(proposal?.amount);
    if (deal.source === "smart_proposal") {
      const demand = before.numbers.claimant!.amount!;
      const offer = before.numbers.respondent!.amount!;
      expect(deal.amount).toBeGreaterThan(offer);
      expect(deal.amount).toBeLessThan(demand);
    }
    return;
  }
  const demand = before.numbers.claimant?.amount;
  const offer = before.numbers.respondent?.amount;
  if (demand == null || offer == null) throw new Error("a deal without both numbers");
  expect(offer).toBeGreaterThanOrEqual(demand);
  // The bonus-free amount, recomputed from the same draws through the neutral rounding.
  const base = dealAmount(demand, offer, replayRandom(record.draws), currency);
  expect(base).toBeGreaterThanOrEqual(demand);
  expect(base).toBeLessThanOrEqual(offer);
  if (deal.source === "step2") {
    expect(deal.bonusPercent).toBe(0);
    expect(deal.amount).toBe(base);
    return;
  }
  expect(deal.bonusPercent).toBe(before.rules.step3BonusPercent);
  if (deal.bonusPercent === 0) {
    expect(deal.bonusSide).toBeNull();
    expect(deal.amount).toBe(base);
  } else {
    // The side that did not just move had the standing number.
    const mover =
      record.command.type === "SetNumber" ? before.members[record.command.actor]?.role : undefined;
    expect(deal.bonusSide).toBe(mover === "claimant" ? "respondent" : "claimant");
    expect(deal.amount).toBe(applyBonus(base, deal.bonusPercent, deal.bonusSide!));
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * RULES.md "Smart proposal": a proposal lies strictly between the numbers, inside the middle half of the gap;
 * "too far apart" answers only a gap wider than the limit, or one of a single cent (nothing lies between).
 */
function checkProposal(
  record: DecisionRecord,
  event: Extract<SessionEvent, { type: "SmartProposalMade" | "ProposalTooFarApart" }>,
): void {
  const before = stateBefore(record, event);
  const demand = before.numbers.claimant!.amount!;
  const offer = before.numbers.respondent!.amount!;
  expect(offer).toBeLessThan(demand);
  if (event.type === "ProposalTooFarApart") {
    const tooWide = gapTooWide(demand, offer, before.rules.proposalMaxGapPercent);
    expect(tooWide || demand - offer === 1).toBe(true);
    return;
  }
  const amount = event.amount!;
  expect(gapTooWide(demand, offer, before.rules.proposalMaxGapPercent)).toBe(false);
  expect(amount).toBeGreaterThan(offer);
  expect(amount).toBeLessThan(demand);
  expect(4 * (amount - offer)).toBeGreaterThanOrEqual(demand - offer);
  expect(4 * (demand - amount)).toBeGreaterThanOrEqual(demand - offer);
}

function checkDecision(record: DecisionRecord): void {
  const { before, command, now, decision } = record;
  // Deterministic and non-mutating: the same decision again, on a deep-frozen copy, with the same draws.
  const frozen = before === null ? null : deepFreeze(structuredClone(before));
  const rerun = decide(frozen, command, { now, random: replayRandom(record.draws) });
  expect(rerun).toEqual(decision);
  if (frozen && rerun.ok) {
    let state: SessionState = frozen;
    for (const event of rerun.events) state = deepFreeze(evolve(state, event));
    expect(state).toStrictEqual(record.after);
  }
  if (before?.phase === "ended" && command.type !== "Tick") {
    expect(decision.ok).toBe(false);
    // A command its schema refuses is refused as such first (as on the wire); any other is SESSION_ENDED.
    if (!decision.ok && !commandSchema.safeParse(command).success)
      expect(["INVALID_INPUT", "INVALID_AMOUNT", "INVALID_RULES"]).toContain(decision.code);
    else if (!decision.ok) expect(decision.code).toBe("SESSION_ENDED");
  }
  if (before?.phase === "ended" && command.type === "Tick")
    expect(decision).toEqual({ ok: true, events: [] });
  if (!decision.ok) {
    expect(decision.code).not.toBe("INTERNAL");
    expect(decision.message.length).toBeGreaterThan(0);
    // A refusal never repeats an amount: messages reach logs and other screens.
    expect(decision.message).not.toMatch(/7\d{7}|5\d{5}00/);
    for (const side of ["claimant", "respondent"] as const) {
      const amount = before?.numbers[side]?.amount;
      if (amount != null) expect(decision.message).not.toMatch(new RegExp(`(?<![\\d,])${amount}(?!\\d)`));
    }
    return;
  }
  for (const event of decision.events) {
    expect(event.at).toBe(now);
    // Events are plain JSON: a round trip changes nothing.
    expect(JSON.parse(JSON.stringify(event))).toStrictEqual(event);
    if (event.type === "DealMade") checkDeal(record, event);
    if (event.type === "SmartProposalMade" || event.type === "ProposalTooFarApart")
      checkProposal(record, event);
    if (event.type === "ProposalRequested") {
      // At most one request per side in any 24 hours.
      const last = stateBefore(record, event).proposalRequestedAt[event.side];
      if (last !== undefined) expect(event.at - last).toBeGreaterThanOrEqual(DAY_MS);
    }
  }
  if (command.type === "Tick" && record.after) {
    // The same Tick again changes nothing, and no deadline is left at or before now.
    const again = decide(record.after, { type: "Tick" }, { now, random: failingRandom });
    expect(again).toEqual({ ok: true, events: [] });
    for (const deadline of openDeadlines(record.after)) expect(deadline.at).toBeGreaterThan(now);
  }
}

const failingRandom: Random = {
  int() {
    throw new Error("a repeated Tick drew a random number");
  },
};

describe("engine properties over random sessions", () => {
  it("holds every decision-level invariant (deals in range, end is final, ticks idempotent, no past deadlines)", {
    timeout: TIMEOUT_MS,
  }, () => {
    fc.assert(
      fc.property(planArbitrary(), (plan) => {
        runPlan(plan, checkDecision);
      }),
      propertyParameters(HEAVY_RUNS),
    );
  });

  it("makes at most one deal, and a deal ends the session at once", { timeout: TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(planArbitrary(), (plan) => {
        const { events } = runPlan(plan);
        const deals = events.filter((e) => e.type === "DealMade");
        expect(deals.length).toBeLessThanOrEqual(1);
        const ends = events.filter((e) => e.type === "SessionEnded");
        expect(ends.length).toBeLessThanOrEqual(1);
        const end = events.findIndex((e) => e.type === "SessionEnded");
        if (end !== -1) expect(end).toBe(events.length - 1);
        const deal = events.findIndex((e) => e.type === "DealMade");
        if (deal !== -1) {
          expect(events[deal + 1]).toMatchObject({ type: "SessionEnded", outcome: "deal" });
        }
      }),
      propertyParameters(HEAVY_RUNS),
    );
  });

  it("rebuilds the same state by replaying the log, after a JSON round trip, and at every version", {
    timeout: TIMEOUT_MS,
  }, () => {
    fc.assert(
      fc.property(planArbitrary(), (plan) => {
        const snapshots: string[] = [];
        const { events, state } = runPlan(plan, (record) => {
          if (record.decision.ok && record.decision.events.length > 0)
            snapshots.push(JSON.stringify(record.after));
        });
        expect(replay(events)).toStrictEqual(state);
        expect(replay(JSON.parse(JSON.stringify(events)))).toStrictEqual(state);
        expect(state?.version).toBe(events.length);
        // Each intermediate state the run produced is what replaying its prefix gives.
        const versions = snapshots.map((json) => JSON.parse(json) as SessionState);
        for (const snapshot of versions) {
          expect(JSON.stringify(replay(events.slice(0, snapshot.version)))).toBe(JSON.stringify(snapshot));
        }
      }),
      propertyParameters(HEAVY_RUNS),
    );
  });

  it("never throws, whatever the command", { timeout: TIMEOUT_MS }, () => {
    const commandLike = fc.oneof(
      fc.anything(),
      fc.record({
        type: fc.constantFrom(
          "SetNumber",
          "PostMessage",
          "EditTerms",
          "RecordBracket",
          "UpdateSetup",
          "JoinSession",
        ),
        actor: fc.oneof(fc.string(), fc.anything()),
        amount: fc.anything(),
        text: fc.anything(),
        room: fc.anything(),
        baseVersion: fc.anything(),
        rules: fc.anything(),
        invitationId: fc.anything(),
      }),
    );
    fc.assert(
      fc.property(
        planArbitrary({ maxSteps: 20 }),
        fc.array(commandLike, { maxLength: 10 }),
        (plan, commands) => {
          const { state } = runPlan(plan);
          for (const command of commands) {
            const decision = decide(state, command as never, {
              now: plan.start + 3_600_000,
              random: failingRandomSafe,
            });
            expect(typeof decision.ok).toBe("boolean");
          }
        },
      ),
      propertyParameters(100),
    );
  });
});

// Random garbage never reaches a comparison that draws; if it did, the draw is still valid.
const failingRandomSafe: Random = { int: (min) => min };
