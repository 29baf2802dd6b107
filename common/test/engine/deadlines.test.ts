// openDeadlines / nextDeadline and the Tick: every deadline listed, fired once, in time order.

import { describe, expect, it } from "vitest";
import { decide, nextDeadline, openDeadlines, replay } from "../../src/engine";
import { seededRandom } from "../../src/random";
import { DEFAULT_RULES } from "../../src/rules";
import {
  answer,
  CLAIMANT,
  DAY,
  HOUR,
  MEDIATOR,
  MINUTE,
  RESPONDENT,
  requestProposal,
  Scenario,
  setNumber,
  T0,
  types,
} from "./builder";

describe("openDeadlines", () => {
  it("lists nothing without a session, and nothing after the end", () => {
    expect(openDeadlines(null)).toEqual([]);
    expect(nextDeadline(null)).toBeNull();
    const scenario = Scenario.inStep2();
    scenario.ok({ type: "Withdraw", actor: CLAIMANT });
    expect(openDeadlines(scenario.s)).toEqual([]);
  });

  it("lists reminders and the Step 2 deadline in Step 2, earliest first", () => {
    const scenario = Scenario.inStep2();
    const closesAt = T0 + DEFAULT_RULES.step2DurationMs;
    expect(openDeadlines(scenario.s)).toEqual([
      { key: "reminder-claimant-0", kind: "reminder", at: closesAt - DAY, side: "claimant", reminder: 0 },
      { key: "reminder-respondent-0", kind: "reminder", at: closesAt - DAY, side: "respondent", reminder: 0 },
      { key: "reminder-claimant-1", kind: "reminder", at: closesAt - HOUR, side: "claimant", reminder: 1 },
      {
        key: "reminder-respondent-1",
        kind: "reminder",
        at: closesAt - HOUR,
        side: "respondent",
        reminder: 1,
      },
      { key: "step2-close", kind: "step2-close", at: closesAt },
    ]);
    expect(nextDeadline(scenario.s)?.key).toBe("reminder-claimant-0");
  });

  it("lists the request lapse, the proposal expiry and the Step 3 deadline in Step 3", () => {
    const scenario = Scenario.inStep3(100_000_00, 90_000_00);
    scenario.ok(requestProposal(CLAIMANT));
    expect(openDeadlines(scenario.s).map((d) => d.key)).toEqual(["request-lapse", "step3-close"]);
    scenario.ok({ type: "ConsentProposal", actor: RESPONDENT, requestId: "request-1" });
    expect(openDeadlines(scenario.s)).toEqual([
      { key: "proposal-expiry", kind: "proposal-expiry", at: scenario.now + DEFAULT_RULES.proposalAnswerMs },
      { key: "step3-close", kind: "step3-close", at: scenario.s.step3ClosesAt },
    ]);
  });
});

describe("the Tick", () => {
  it("is idempotent: the same Tick twice changes nothing the second time", () => {
    const scenario = Scenario.inStep2();
    const closesAt = scenario.s.step2ClosesAt!;
    expect(types(scenario.tickAt(closesAt))).toEqual(["Step2Closed", "Step3Opened"]);
    const decision = decide(scenario.s, { type: "Tick" }, { now: closesAt, random: seededRandom(9) });
    expect(decision).toEqual({ ok: true, events: [] });
  });

  it("fires everything due after an outage, in time order, and leaves no past deadline", () => {
    const scenario = Scenario.inStep2({ step2DurationMs: HOUR, step3DurationMs: HOUR, maxSessionMs: DAY });
    scenario.ok(setNumber(CLAIMANT, 100_000_00));
    const events = scenario.tickAt(T0 + 5 * HOUR);
    // The overdue reminder is dropped: Step 2 had already closed when the Tick came.
    expect(types(events)).toEqual(["Step2Closed", "Step3Opened", "SessionEnded"]);
    expect(events[2]).toMatchObject({ outcome: "expired" });
    expect(openDeadlines(scenario.s)).toEqual([]);
  });

  it("expires a proposal before closing Step 3 when both are due together", () => {
    const scenario = Scenario.inStep3(100_000_00, 90_000_00, { step3DurationMs: HOUR });
    scenario.ok({
      type: "PutMediatorProposal",
      actor: MEDIATOR,
      proposalId: "mp",
      amount: 95_000_00,
      answerBy: scenario.s.step3ClosesAt!,
    });
    scenario.ok(answer(CLAIMANT, "mp", true));
    expect(types(scenario.tickAt(scenario.s.step3ClosesAt!))).toEqual(["ProposalResolved", "SessionEnded"]);
  });

  it("does nothing before the next deadline", () => {
    const scenario = Scenario.inStep2();
    expect(scenario.tickAt(nextDeadline(scenario.s)!.at - 1)).toEqual([]);
    expect(scenario.tickAt(scenario.now + MINUTE)).toHaveLength(2); // both sides' first reminder
  });
});

describe("state", () => {
  it("counts one version per event and replays to the same state", () => {
    const scenario = Scenario.inStep3(100_000_00, 90_000_00);
    scenario.ok(setNumber(RESPONDENT, 95_000_00));
    expect(scenario.s.version).toBe(scenario.log.length);
    expect(replay(scenario.log)).toStrictEqual(scenario.s);
  });

  it("refuses to replay a log that does not start with SessionCreated", () => {
    expect(() => replay([])).toThrow();
    expect(() => replay([{ type: "Knock" } as never])).toThrow();
  });

  it("keeps only the Step 3 change times the rate limit can still need", () => {
    const scenario = Scenario.inStep3(100_000_00, 10_000_00, { maxChangesPerDay: 2 });
    for (let i = 1; i <= 5; i++) scenario.advance(DAY).ok(setNumber(RESPONDENT, 10_000_00 + i));
    expect(scenario.s.step3Changes.respondent).toEqual([scenario.now - DAY, scenario.now]);
  });
});
