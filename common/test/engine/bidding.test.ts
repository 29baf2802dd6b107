// RULES.md "Step 2: sealed first numbers", "Step 3: live bidding", "Matching", the rate limit, the bonus,
// withdrawal and expiry.

import { describe, expect, it } from "vitest";
import { openDeadlines } from "../../src/engine";
import { MAX_AMOUNT_CENTS } from "../../src/money";
import { DEFAULT_RULES } from "../../src/rules";
import {
  ADJUSTER,
  CLAIMANT,
  CLAIMANT_CLIENT,
  DAY,
  HOUR,
  MEDIATOR,
  MINUTE,
  OUTSIDER,
  RESPONDENT,
  Scenario,
  setNumber,
  T0,
  types,
} from "./builder";

describe("Step 2: sealed first numbers", () => {
  it("records each number for its side and compares nothing before the deadline", () => {
    const scenario = Scenario.inStep2();
    expect(scenario.ok(setNumber(CLAIMANT, 100_000_00))).toEqual([
      { type: "BidSet", at: T0, by: CLAIMANT, side: "claimant", step: 2, amount: 100_000_00 },
    ]);
    // Matching numbers make no deal yet.
    expect(types(scenario.ok(setNumber(RESPONDENT, 150_000_00)))).toEqual(["BidSet"]);
    expect(scenario.tickAt(scenario.s.step2ClosesAt! - 1)).toEqual([]);
    expect(scenario.s.phase).toBe("step2");
    expect(scenario.s.deal).toBeNull();
  });

  it("lets a side change its one number any number of times, from any member with bidding rights", () => {
    const scenario = Scenario.inStep2({ maxChangesPerDay: 1 });
    for (let i = 1; i <= 25; i++) scenario.advance(MINUTE).ok(setNumber(RESPONDENT, i * 1_000_00));
    scenario.ok(setNumber(ADJUSTER, 7_000_00));
    expect(scenario.s.numbers.respondent).toEqual({ amount: 7_000_00, setAt: scenario.now, setBy: ADJUSTER });
  });

  it("refuses mediators, view-only members and outsiders", () => {
    const scenario = Scenario.inStep2();
    expect(scenario.refused(setNumber(MEDIATOR, 100_00)).code).toBe("WRONG_ROLE");
    expect(scenario.refused(setNumber(CLAIMANT_CLIENT, 100_00)).code).toBe("NO_BIDDING_RIGHTS");
    expect(scenario.refused(setNumber(OUTSIDER, 100_00)).code).toBe("NOT_A_MEMBER");
  });

  it("refuses amounts that are not whole cents in (0, 10^13], without repeating them", () => {
    const scenario = Scenario.inStep2();
    for (const amount of [
      0,
      -12_345_67,
      12.5,
      MAX_AMOUNT_CENTS + 1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      "100",
    ]) {
      const refusal = scenario.refused(setNumber(CLAIMANT, amount as number));
      expect(refusal.code).toBe("INVALID_AMOUNT");
      expect(refusal.message).not.toMatch(/1234567|12\.5|10000000000001/);
    }
    scenario.ok(setNumber(CLAIMANT, MAX_AMOUNT_CENTS));
    scenario.ok(setNumber(CLAIMANT, 1));
  });

  it.each([
    ["USD", "The amount can be at most $100,000,000,000.00."],
    ["JPY", "The amount can be at most ¥10,000,000,000,000."],
    ["BHD", "The amount can be at most BHD\u00a010,000,000,000.000."],
  ])(
    "names the largest amount in the session's currency (%s), for numbers, proposals and the ledger",
    (currency, message) => {
      const scenario = Scenario.inStep3(100_000, 50_000, { currency });
      const tooLarge = MAX_AMOUNT_CENTS + 1;
      expect(scenario.refused(setNumber(CLAIMANT, tooLarge))).toMatchObject({
        code: "INVALID_AMOUNT",
        message,
      });
      const put = {
        type: "PutMediatorProposal",
        actor: MEDIATOR,
        proposalId: "mp",
        amount: tooLarge,
        answerBy: scenario.now + HOUR,
      } as const;
      expect(scenario.refused(put)).toMatchObject({ code: "INVALID_AMOUNT", message });
      const conveyed = {
        type: "RecordConveyed",
        actor: MEDIATOR,
        itemId: "i",
        from: "claimant",
        amount: tooLarge,
        note: null,
        counters: null,
      } as const;
      expect(scenario.refused(conveyed)).toMatchObject({ code: "INVALID_AMOUNT", message });
    },
  );
});

describe("the Step 2 deadline comparison", () => {
  it("makes a deal at the number itself on an exact match", () => {
    const scenario = Scenario.inStep2();
    scenario.ok(setNumber(CLAIMANT, 75_000_00));
    scenario.ok(setNumber(RESPONDENT, 75_000_00));
    const closesAt = scenario.s.step2ClosesAt!;
    expect(scenario.tickAt(closesAt)).toEqual([
      { type: "Step2Closed", at: closesAt, deal: true },
      {
        type: "DealMade",
        at: closesAt,
        amount: 75_000_00,
        source: "step2",
        bonusPercent: 0,
        bonusSide: null,
        termsVersion: null,
      },
      { type: "SessionEnded", at: closesAt, outcome: "deal", side: null, by: null },
    ]);
    expect(scenario.s).toMatchObject({ phase: "ended", outcome: "deal" });
  });

  it("draws an overlap deal at random inside [demand, offer], rounded by the neutral table", () => {
    const amounts = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const scenario = Scenario.inStep2({}, { seed });
      scenario.ok(setNumber(CLAIMANT, 10_000_00));
      scenario.ok(setNumber(RESPONDENT, 12_000_00));
      scenario.tickAt(scenario.s.step2ClosesAt!);
      const amount = scenario.s.deal!.amount;
      expect(amount).toBeGreaterThanOrEqual(10_000_00);
      expect(amount).toBeLessThanOrEqual(12_000_00);
      expect(amount % 100_00).toBe(0); // 10,000 to 99,999 units: to the nearest 100
      amounts.add(amount);
    }
    // A random point, not the midpoint.
    expect(amounts.size).toBeGreaterThan(5);
  });

  it("opens Step 3 when the numbers do not match, capped at the session's end", () => {
    const scenario = Scenario.inStep2({ step3DurationMs: 30 * DAY });
    scenario.ok(setNumber(CLAIMANT, 100_000_00));
    scenario.ok(setNumber(RESPONDENT, 60_000_00));
    const closesAt = scenario.s.step2ClosesAt!;
    expect(scenario.tickAt(closesAt + 5 * MINUTE)).toEqual([
      { type: "Step2Closed", at: closesAt + 5 * MINUTE, deal: false },
      { type: "Step3Opened", at: closesAt + 5 * MINUTE, closesAt: scenario.s.sessionEndsAt! },
    ]);
    expect(scenario.s.sessionEndsAt).toBe(T0 + DEFAULT_RULES.maxSessionMs);
  });

  it("runs Step 3 for its duration from the scheduled Step 2 deadline", () => {
    const scenario = Scenario.inStep2({
      step2DurationMs: HOUR,
      step3DurationMs: 2 * HOUR,
      maxSessionMs: DAY,
    });
    scenario.tickAt(T0 + HOUR + 10 * MINUTE); // a late Tick does not lengthen Step 3
    expect(scenario.s.step3ClosesAt).toBe(T0 + 3 * HOUR);
  });

  it("opens Step 3 when a side entered nothing", () => {
    const scenario = Scenario.inStep2();
    scenario.ok(setNumber(CLAIMANT, 100_000_00));
    expect(types(scenario.tickAt(scenario.s.step2ClosesAt!))).toEqual(["Step2Closed", "Step3Opened"]);
  });

  it("treats a number sent after the deadline, before its Tick, as a Step 3 number", () => {
    const scenario = Scenario.inStep2();
    scenario.ok(setNumber(CLAIMANT, 100_000_00));
    scenario.ok(setNumber(RESPONDENT, 60_000_00));
    scenario.at(scenario.s.step2ClosesAt!);
    const events = scenario.ok(setNumber(RESPONDENT, 100_000_00));
    expect(types(events)).toEqual(["Step2Closed", "Step3Opened", "BidSet", "DealMade", "SessionEnded"]);
    expect(scenario.s.deal).toMatchObject({ source: "step3", amount: 100_000_00 });
  });
});

describe("Step 3: live bidding", () => {
  it("compares every change at once and makes the deal immediately on a match", () => {
    const scenario = Scenario.inStep3(100_000_00, 60_000_00);
    expect(types(scenario.ok(setNumber(RESPONDENT, 80_000_00)))).toEqual(["BidSet"]);
    expect(scenario.log.at(-1)).toMatchObject({ step: 3 });
    expect(types(scenario.ok(setNumber(CLAIMANT, 90_000_00)))).toEqual(["BidSet"]);
    const events = scenario.advance(HOUR).ok(setNumber(ADJUSTER, 95_000_00));
    expect(types(events)).toEqual(["BidSet", "DealMade", "SessionEnded"]);
    const deal = events[1]!;
    expect(deal).toMatchObject({ source: "step3", at: scenario.now, bonusPercent: 0, bonusSide: null });
    expect(scenario.s.deal!.amount).toBeGreaterThanOrEqual(90_000_00);
    expect(scenario.s.deal!.amount).toBeLessThanOrEqual(95_000_00);
  });

  it("lets a side that entered nothing in Step 2 enter its first number in Step 3", () => {
    const scenario = Scenario.inStep3(100_000_00, null);
    expect(types(scenario.ok(setNumber(RESPONDENT, 100_000_00)))).toEqual([
      "BidSet",
      "DealMade",
      "SessionEnded",
    ]);
  });
});

describe("the rate limit (maxChangesPerDay in any 24 hours)", () => {
  it("refuses the change over the limit until the oldest change leaves the rolling window", () => {
    const scenario = Scenario.inStep3(100_000_00, 10_000_00, { maxChangesPerDay: 3 });
    const t0 = scenario.now;
    scenario.ok(setNumber(RESPONDENT, 11_000_00));
    scenario.at(t0 + HOUR).ok(setNumber(RESPONDENT, 12_000_00));
    scenario.at(t0 + 2 * HOUR).ok(setNumber(ADJUSTER, 13_000_00)); // the side's limit, whichever member
    const refusal = scenario.at(t0 + 3 * HOUR).refused(setNumber(RESPONDENT, 14_000_00));
    expect(refusal).toMatchObject({ code: "RATE_LIMITED", retryAt: t0 + DAY });
    expect(refusal.message).toContain(new Date(t0 + DAY).toISOString().slice(0, 16).replace("T", " "));
    expect(refusal.message).not.toMatch(/1400000|14,000/);
    expect(scenario.at(t0 + DAY - 1).refused(setNumber(RESPONDENT, 14_000_00)).code).toBe("RATE_LIMITED");
    scenario.at(t0 + DAY).ok(setNumber(RESPONDENT, 14_000_00));
    // Rolling: the window now holds the changes at +1 h, +2 h and +24 h.
    expect(scenario.at(t0 + DAY + 1).refused(setNumber(RESPONDENT, 15_000_00))).toMatchObject({
      code: "RATE_LIMITED",
      retryAt: t0 + HOUR + DAY,
    });
    // The other side has its own limit.
    scenario.ok(setNumber(CLAIMANT, 99_000_00));
  });

  it("does not count Step 2 changes", () => {
    const scenario = Scenario.inStep2({ maxChangesPerDay: 1 });
    for (let i = 0; i < 5; i++) scenario.ok(setNumber(CLAIMANT, 100_000_00 + i));
    scenario.tickAt(scenario.s.step2ClosesAt!);
    scenario.ok(setNumber(CLAIMANT, 90_000_00));
    expect(scenario.refused(setNumber(CLAIMANT, 80_000_00)).code).toBe("RATE_LIMITED");
  });
});

describe("the early-number bonus", () => {
  it("moves the deal up for a standing claimant when the respondent's change makes the deal", () => {
    const scenario = Scenario.inStep3(100_000_00, 50_000_00, { step3BonusPercent: 5 });
    const events = scenario.ok(setNumber(RESPONDENT, 100_000_00));
    expect(events[1]).toMatchObject({
      type: "DealMade",
      amount: 105_000_00,
      bonusPercent: 5,
      bonusSide: "claimant",
    });
  });

  it("moves the deal down for a standing respondent when the claimant's change makes the deal", () => {
    const scenario = Scenario.inStep3(100_000_00, 50_000_00, { step3BonusPercent: 5 });
    const events = scenario.ok(setNumber(CLAIMANT, 50_000_00));
    expect(events[1]).toMatchObject({ amount: 47_500_00, bonusPercent: 5, bonusSide: "respondent" });
  });

  it("applies to the drawn amount of an overlap", () => {
    const scenario = Scenario.inStep3(100_000_00, 50_000_00, { step3BonusPercent: 10 });
    scenario.ok(setNumber(RESPONDENT, 110_000_00));
    const amount = scenario.s.deal!.amount;
    expect(amount).toBeGreaterThanOrEqual(110_000_00);
    expect(amount).toBeLessThanOrEqual(121_000_00);
  });

  it("never applies at the Step 2 deadline", () => {
    const scenario = Scenario.inStep2({ step3BonusPercent: 10 });
    scenario.ok(setNumber(CLAIMANT, 100_000_00));
    scenario.ok(setNumber(RESPONDENT, 100_000_00));
    scenario.tickAt(scenario.s.step2ClosesAt!);
    expect(scenario.s.deal).toMatchObject({ amount: 100_000_00, bonusPercent: 0, bonusSide: null });
  });
});

describe("withdrawal", () => {
  it("ends the session with no deal when a side withdraws in Step 2 or Step 3", () => {
    const step2 = Scenario.inStep2();
    expect(step2.ok({ type: "Withdraw", actor: ADJUSTER })).toEqual([
      { type: "SessionEnded", at: T0, outcome: "withdrawn", side: "respondent", by: ADJUSTER },
    ]);
    const step3 = Scenario.inStep3(100_00, 50_00);
    step3.ok({ type: "Withdraw", actor: CLAIMANT });
    expect(step3.s).toMatchObject({ phase: "ended", outcome: "withdrawn", deal: null });
  });

  it("is refused before Step 2, to mediators and to view-only members", () => {
    const setup = new Scenario().create({ startAt: T0 + DAY }).cast();
    expect(setup.refused({ type: "Withdraw", actor: RESPONDENT }).code).toBe("WRONG_STEP");
    const scenario = Scenario.inStep2();
    expect(scenario.refused({ type: "Withdraw", actor: MEDIATOR }).code).toBe("WRONG_ROLE");
    expect(scenario.refused({ type: "Withdraw", actor: CLAIMANT_CLIENT }).code).toBe("NO_BIDDING_RIGHTS");
  });
});

describe("expiry", () => {
  it("ends the session without a deal at the Step 3 deadline, and not before", () => {
    const scenario = Scenario.inStep3(100_000_00, 50_000_00);
    const closesAt = scenario.s.step3ClosesAt!;
    expect(scenario.tickAt(closesAt - 1)).toEqual([]);
    expect(scenario.tickAt(closesAt)).toEqual([
      { type: "SessionEnded", at: closesAt, outcome: "expired", side: null, by: null },
    ]);
    expect(scenario.refused(setNumber(RESPONDENT, 100_000_00)).code).toBe("SESSION_ENDED");
  });

  it("refuses a number sent at the deadline even before its Tick", () => {
    const scenario = Scenario.inStep3(100_000_00, 50_000_00);
    scenario.at(scenario.s.step3ClosesAt!);
    expect(scenario.refused(setNumber(RESPONDENT, 100_000_00)).code).toBe("SESSION_ENDED");
    expect(types(scenario.tick())).toEqual(["SessionEnded"]);
  });
});

describe("Step 2 reminders", () => {
  it("reminds each side without a number, once per reminder, at 24 h and 1 h before the deadline", () => {
    const scenario = Scenario.inStep2();
    scenario.ok(setNumber(CLAIMANT, 100_000_00));
    const closesAt = scenario.s.step2ClosesAt!;
    expect(openDeadlines(scenario.s).map((d) => d.key)).toEqual([
      "reminder-respondent-0",
      "reminder-respondent-1",
      "step2-close",
    ]);
    expect(scenario.tickAt(closesAt - DAY)).toEqual([
      { type: "ReminderDue", at: closesAt - DAY, side: "respondent", closesAt, reminder: 0 },
    ]);
    expect(scenario.tick()).toEqual([]);
    expect(types(scenario.tickAt(closesAt - HOUR))).toEqual(["ReminderDue"]);
    expect(scenario.log.at(-1)).toMatchObject({ reminder: 1 });
  });

  it("sends only the latest due reminder after an outage, and none once the step has closed", () => {
    const scenario = Scenario.inStep2();
    const closesAt = scenario.s.step2ClosesAt!;
    const late = scenario.tickAt(closesAt - 30 * MINUTE);
    expect(late.map((e) => e.type === "ReminderDue" && [e.side, e.reminder])).toEqual([
      ["claimant", 1],
      ["respondent", 1],
    ]);
    const other = Scenario.inStep2();
    expect(types(other.tickAt(other.s.step2ClosesAt!))).toEqual(["Step2Closed", "Step3Opened"]);
  });

  it("scales the reminders for a short Step 2", () => {
    const scenario = Scenario.inStep2({ step2DurationMs: 2 * MINUTE, maxSessionMs: HOUR });
    expect(
      openDeadlines(scenario.s)
        .filter((d) => d.side === "claimant")
        .map((d) => d.at),
    ).toEqual([T0 + 60_000, T0 + 2 * MINUTE - 2_500]);
  });
});
