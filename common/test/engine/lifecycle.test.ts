// RULES.md "Who takes part" and "Session lifecycle": creation, setup, invitations, Step 2 opening, cancel, end.

import { describe, expect, it } from "vitest";
import { decide, openDeadlines, replay } from "../../src/engine";
import { seededRandom } from "../../src/random";
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

describe("creating a session", () => {
  it("makes the creator a member with its role; a side creator may bid, a mediator creator never", () => {
    const claimantSession = new Scenario().create();
    expect(claimantSession.s.version).toBe(1);
    expect(claimantSession.s.phase).toBe("setup");
    expect(claimantSession.s.members[CLAIMANT]).toMatchObject({
      role: "claimant",
      canBid: true,
      joinedAt: T0,
    });
    expect(claimantSession.s.terms).toMatchObject({ version: 1, closed: null });

    const mediatorSession = new Scenario().create({ actor: MEDIATOR, creatorRole: "mediator" });
    expect(mediatorSession.s.members[MEDIATOR]).toMatchObject({ role: "mediator", canBid: false });
  });

  it("accepts empty terms (version 1 is the initial text) and fills in default rules", () => {
    const scenario = new Scenario().create({ termsText: "", rules: { step3BonusPercent: 5 } as never });
    expect(scenario.s.terms.text).toBe("");
    expect(scenario.s.rules).toEqual({ ...DEFAULT_RULES, step3BonusPercent: 5 });
  });

  it("refuses a bad title, start, name or rules, and a second creation", () => {
    const scenario = new Scenario();
    const create = (overrides: object) =>
      scenario.refused({
        type: "CreateSession",
        actor: CLAIMANT,
        actorName: "Claire",
        sessionId: "s",
        title: "Smith v. Jones",
        creatorRole: "claimant",
        rules: DEFAULT_RULES,
        startAt: T0,
        termsText: "",
        ...overrides,
      } as never);
    expect(create({ title: "" }).code).toBe("INVALID_INPUT");
    expect(create({ title: "   " }).code).toBe("INVALID_INPUT");
    expect(create({ title: "x".repeat(201) }).code).toBe("INVALID_INPUT");
    expect(create({ startAt: -1 }).code).toBe("INVALID_INPUT");
    expect(create({ startAt: 1.5 }).code).toBe("INVALID_INPUT");
    expect(create({ actorName: "" }).code).toBe("INVALID_INPUT");
    expect(create({ rules: { ...DEFAULT_RULES, step3BonusPercent: 11 } })).toMatchObject({
      code: "INVALID_RULES",
    });
    expect(create({ rules: { ...DEFAULT_RULES, maxChangesPerDay: 0 } }).code).toBe("INVALID_RULES");
    // 200 characters is the limit; once created, the same session cannot be created again.
    scenario.create({ title: "x".repeat(200) });
    expect(create({}).code).toBe("CONFLICT");
  });

  it("refuses commands for a session that does not exist", () => {
    const decision = decide(null, { type: "Knock", actor: CLAIMANT }, { now: T0, random: seededRandom(1) });
    expect(decision).toMatchObject({ ok: false, code: "SESSION_NOT_FOUND" });
  });
});

describe("malformed commands", () => {
  it("are refused with INVALID_INPUT, never thrown", () => {
    const scenario = Scenario.inStep2();
    for (const bad of [
      null,
      42,
      [],
      {},
      { type: "Launch", actor: CLAIMANT },
      { type: "SetNumber" },
      { type: "SetNumber", actor: "" },
      { type: "PostMessage", actor: CLAIMANT, messageId: "m", room: "lobby", text: "hi" },
      { type: "EditTerms", actor: CLAIMANT, baseVersion: "1", text: "x" },
      { type: "AnswerProposal", actor: CLAIMANT, proposalId: "p", accept: "yes" },
    ]) {
      expect(scenario.refused(bad as never).code).toBe("INVALID_INPUT");
    }
  });
});

describe("changing the setup (creator only, setup only)", () => {
  it("merges partial rules, changes title and start, and is refused to others and after Step 2 opens", () => {
    const scenario = new Scenario().create({ startAt: T0 + DAY }).cast();
    const [updated] = scenario.ok({
      type: "UpdateSetup",
      actor: CLAIMANT,
      rules: { maxChangesPerDay: 3 } as never,
      title: "Smith v. Jones (2)",
    });
    expect(updated).toMatchObject({ type: "SetupUpdated", startAt: T0 + DAY, title: "Smith v. Jones (2)" });
    expect(scenario.s.rules).toEqual({ ...DEFAULT_RULES, maxChangesPerDay: 3 });
    expect(scenario.refused({ type: "UpdateSetup", actor: RESPONDENT, title: "Mine" }).code).toBe(
      "NOT_CREATOR",
    );
    expect(scenario.refused({ type: "UpdateSetup", actor: MEDIATOR, title: "Mine" }).code).toBe(
      "NOT_CREATOR",
    );
    expect(scenario.refused({ type: "UpdateSetup", actor: OUTSIDER, title: "Mine" }).code).toBe(
      "NOT_A_MEMBER",
    );
    expect(scenario.refused({ type: "UpdateSetup", actor: CLAIMANT }).code).toBe("INVALID_INPUT");
    expect(
      scenario.refused({
        type: "UpdateSetup",
        actor: CLAIMANT,
        rules: { step2DurationMs: 31 * DAY } as never,
      }).code,
    ).toBe("INVALID_RULES");

    scenario.skipTerms();
    // Moving the start to now withdraws both skips (they accepted the old start), so Step 2 waits for them.
    const events = scenario.ok({ type: "UpdateSetup", actor: CLAIMANT, startAt: scenario.now });
    expect(events).toEqual([expect.objectContaining({ type: "SetupUpdated", approvalsWithdrawn: true })]);
    expect(types(scenario.skipTerms())).toEqual([
      "TermsSkipped",
      "TermsSkipped",
      "Step1Closed",
      "Step2Opened",
    ]);
    expect(scenario.refused({ type: "UpdateSetup", actor: CLAIMANT, title: "Late" })).toMatchObject({
      code: "WRONG_STEP",
      message: "The setup is fixed once Step 2 has opened.",
    });
  });
});

describe("a side's approval or skip accepts the rules and start time as they stand", () => {
  const approve = (actor: string, version = 1) => ({ type: "ApproveTerms", actor, version }) as const;
  /** Everyone joined, both sides skipped Step 1, the start a day away. */
  function accepted(): Scenario {
    const scenario = new Scenario().create({ startAt: T0 + DAY }).cast();
    scenario.skipTerms();
    expect(scenario.s.terms.closed).toBe("skipped");
    return scenario;
  }

  it("a change of rules withdraws every approval and skip, says so on SetupUpdated, and reopens Step 1", () => {
    const scenario = accepted();
    const events = scenario.ok({
      type: "UpdateSetup",
      actor: CLAIMANT,
      rules: { ...DEFAULT_RULES, maxChangesPerDay: 3 },
    });
    expect(events).toEqual([
      {
        type: "SetupUpdated",
        at: T0,
        by: CLAIMANT,
        rules: { ...DEFAULT_RULES, maxChangesPerDay: 3 },
        startAt: T0 + DAY,
        title: "Smith v. Jones",
        approvalsWithdrawn: true,
      },
    ]);
    expect(scenario.s.terms).toMatchObject({ approvals: {}, skipped: {}, closed: null });
    // Step 2 no longer has a start to wait for: the sides must accept the new rules first.
    expect(openDeadlines(scenario.s)).toEqual([]);
    expect(scenario.tickAt(T0 + DAY)).toEqual([]);
    expect(scenario.s.phase).toBe("setup");
    // Accepting again closes Step 1 again, and Step 2 opens (its start has come).
    expect(types(scenario.ok(approve(CLAIMANT)))).toEqual(["TermsApproved"]);
    expect(types(scenario.ok(approve(RESPONDENT)))).toEqual(["TermsApproved", "Step1Closed", "Step2Opened"]);
    expect(scenario.s.rules.maxChangesPerDay).toBe(3);
  });

  it("an UpdateSetup with a past start never opens Step 2 in the same decision", () => {
    const scenario = accepted();
    scenario.advance(HOUR);
    const events = scenario.ok({ type: "UpdateSetup", actor: CLAIMANT, startAt: T0 });
    expect(types(events)).toEqual(["SetupUpdated"]);
    expect(events[0]).toMatchObject({ startAt: T0, approvalsWithdrawn: true });
    expect(scenario.s.phase).toBe("setup");
    expect(scenario.tick()).toEqual([]);
    // Nor with new rules and a past start together.
    const again = accepted();
    again.advance(HOUR);
    const both = again.ok({
      type: "UpdateSetup",
      actor: CLAIMANT,
      startAt: T0,
      rules: { ...DEFAULT_RULES, step3BonusPercent: 5 },
    });
    expect(types(both)).toEqual(["SetupUpdated"]);
  });

  it("withdraws a single side's approval too, before Step 1 has closed", () => {
    const scenario = new Scenario().create({ startAt: T0 + DAY }).cast();
    scenario.ok(approve(CLAIMANT));
    scenario.ok({ type: "SkipTerms", actor: RESPONDENT });
    const [updated] = scenario.ok({ type: "UpdateSetup", actor: CLAIMANT, startAt: T0 + 2 * DAY });
    expect(updated).toMatchObject({ approvalsWithdrawn: true });
    expect(scenario.s.terms).toMatchObject({ approvals: {}, skipped: {}, closed: null });
    // The respondent's approval alone no longer closes Step 1.
    expect(types(scenario.ok(approve(RESPONDENT)))).toEqual(["TermsApproved"]);
  });

  it("a title-only change, or setting the same rules and start, withdraws nothing", () => {
    const scenario = accepted();
    const [titled] = scenario.ok({ type: "UpdateSetup", actor: CLAIMANT, title: "Smith v. Jones Ltd" });
    expect(titled).toMatchObject({ title: "Smith v. Jones Ltd", approvalsWithdrawn: false });
    const [same] = scenario.ok({
      type: "UpdateSetup",
      actor: CLAIMANT,
      rules: { ...scenario.s.rules },
      startAt: scenario.s.startAt,
    });
    expect(same).toMatchObject({ approvalsWithdrawn: false });
    expect(scenario.s.terms.closed).toBe("skipped");
    expect(types(scenario.tickAt(T0 + DAY))).toEqual(["Step2Opened"]);
  });

  it("announces no withdrawal when nobody had approved or skipped", () => {
    const scenario = new Scenario().create({ startAt: T0 + DAY }).cast();
    const [updated] = scenario.ok({ type: "UpdateSetup", actor: CLAIMANT, startAt: T0 + 2 * DAY });
    expect(updated).toMatchObject({ approvalsWithdrawn: false });
  });

  it("replays logs written before the field existed: a SetupUpdated without it withdraws nothing", () => {
    const scenario = accepted();
    const old = {
      type: "SetupUpdated",
      at: T0,
      by: CLAIMANT,
      rules: { ...DEFAULT_RULES, maxChangesPerDay: 3 },
      startAt: T0 + DAY,
      title: "Smith v. Jones",
    } as const;
    const replayed = replay([...scenario.log, old]);
    expect(replayed.terms.closed).toBe("skipped");
    expect(replayed.rules.maxChangesPerDay).toBe(3);
  });
});

describe("invitations and joining", () => {
  it("lets the creator or a mediator invite mediators and each side's first member; others are refused", () => {
    const scenario = new Scenario().create();
    scenario.invite("m1", "mediator").join(MEDIATOR, "m1");
    scenario.invite("by-mediator", "respondent", true, MEDIATOR);
    const invite = {
      type: "IssueInvitation",
      invitationId: "x",
      role: "mediator",
      canBid: false,
      expiresAt: T0 + DAY,
    } as const;
    scenario.join(RESPONDENT, "by-mediator");
    expect(scenario.refused({ ...invite, actor: RESPONDENT }).code).toBe("NOT_CREATOR");
    expect(scenario.refused({ ...invite, actor: OUTSIDER }).code).toBe("NOT_A_MEMBER");
    expect(scenario.refused({ ...invite, actor: CLAIMANT, invitationId: "by-mediator" }).code).toBe(
      "CONFLICT",
    );
    expect(scenario.refused({ ...invite, actor: CLAIMANT, expiresAt: scenario.now }).code).toBe(
      "INVALID_DEADLINE",
    );
  });

  it("once a side has joined, only its own bidding members may invite to it, so nobody can plant a reader", () => {
    const scenario = new Scenario().create().cast();
    const toRespondent = {
      type: "IssueInvitation",
      invitationId: "puppet",
      role: "respondent",
      canBid: false,
      expiresAt: T0 + DAY,
    } as const;
    // The claimant creator and the mediator cannot put someone into the respondent side.
    expect(scenario.refused({ ...toRespondent, actor: CLAIMANT }).code).toBe("WRONG_SIDE");
    expect(scenario.refused({ ...toRespondent, actor: MEDIATOR }).code).toBe("WRONG_SIDE");
    expect(scenario.refused({ ...toRespondent, role: "claimant", actor: MEDIATOR }).code).toBe("WRONG_SIDE");
    // A view-only member cannot either; a bidding member of the side can.
    expect(scenario.refused({ ...toRespondent, role: "claimant", actor: CLAIMANT_CLIENT }).code).toBe(
      "NO_BIDDING_RIGHTS",
    );
    scenario.ok({ ...toRespondent, actor: ADJUSTER });
    expect(types(scenario.join("co-counsel", "puppet"))).toEqual(["MemberJoined"]);
  });

  it("a view-only first member does not lock a side: the creator and mediators may still invite its bidder", () => {
    const scenario = new Scenario().create();
    scenario.invite("m1", "mediator").join(MEDIATOR, "m1");
    scenario.invite("viewer", "respondent", false).join("respondent-viewer", "viewer");
    // The side has a member, but none with bidding rights: outsiders may still bring one in.
    scenario.invite("by-creator", "respondent", true, CLAIMANT);
    scenario.invite("by-mediator", "respondent", true, MEDIATOR);
    // The view-only member is not the one to do it.
    const byViewer = {
      type: "IssueInvitation",
      actor: "respondent-viewer",
      invitationId: "by-viewer",
      role: "respondent",
      canBid: true,
      expiresAt: T0 + DAY,
    } as const;
    expect(scenario.refused(byViewer).code).toBe("NOT_CREATOR");
    expect(types(scenario.join(RESPONDENT, "by-creator"))).toEqual(["MemberJoined"]);
    // Now the side has a bidder: only it may invite to the side, and the outsiders' spare invitation is void.
    const more = { ...byViewer, actor: CLAIMANT, invitationId: "more" } as const;
    expect(scenario.refused(more).code).toBe("WRONG_SIDE");
    expect(scenario.refused({ ...more, actor: MEDIATOR }).code).toBe("WRONG_SIDE");
    expect(
      scenario.refused({ type: "JoinSession", actor: ADJUSTER, actorName: "A", invitationId: "by-mediator" })
        .code,
    ).toBe("INVITE_INVALID");
    scenario.invite("from-inside", "respondent", true, RESPONDENT).join(ADJUSTER, "from-inside");
  });

  it("keeps outsiders' spare invitations valid while the side has only view-only members", () => {
    const scenario = new Scenario().create();
    scenario.invite("viewer", "respondent", false);
    scenario.invite("bidder", "respondent");
    scenario.invite("spare", "respondent");
    scenario.join("respondent-viewer", "viewer");
    expect(types(scenario.join(RESPONDENT, "bidder"))).toEqual(["MemberJoined"]);
    expect(scenario.s.members[RESPONDENT]).toMatchObject({ role: "respondent", canBid: true });
    expect(
      scenario.refused({ type: "JoinSession", actor: "puppet", actorName: "P", invitationId: "spare" }).code,
    ).toBe("INVITE_INVALID");
  });

  it("voids a spare first-member invitation once that side has joined", () => {
    const scenario = new Scenario().create();
    scenario.invite("first", "respondent");
    scenario.invite("spare", "respondent");
    scenario.join(RESPONDENT, "first");
    const refused = scenario.refused({
      type: "JoinSession",
      actor: "puppet",
      actorName: "P",
      invitationId: "spare",
    });
    expect(refused.code).toBe("INVITE_INVALID");
  });

  it("grants bidding rights by default or view only; a mediator never gets bidding rights", () => {
    const scenario = new Scenario().create().cast();
    expect(scenario.s.members[ADJUSTER]).toMatchObject({ role: "respondent", canBid: true });
    expect(scenario.s.members[CLAIMANT_CLIENT]).toMatchObject({ role: "claimant", canBid: false });
    const [issued] = scenario.ok({
      type: "IssueInvitation",
      actor: CLAIMANT,
      invitationId: "co-mediator",
      role: "mediator",
      canBid: true,
      expiresAt: T0 + DAY,
    });
    expect(issued).toMatchObject({ canBid: false });
  });

  it("refuses unknown, revoked, used and expired invitations, and users already on a side", () => {
    const scenario = new Scenario().create();
    scenario.invite("inv-1", "respondent").invite("inv-2", "respondent").invite("inv-3", "claimant");
    const join = (actor: string, invitationId: string) =>
      scenario.run({ type: "JoinSession", actor, actorName: actor, invitationId });
    expect(join(RESPONDENT, "nope")).toMatchObject({ ok: false, code: "INVITE_INVALID" });
    scenario.ok({ type: "RevokeInvitation", actor: CLAIMANT, invitationId: "inv-2" });
    expect(join(RESPONDENT, "inv-2")).toMatchObject({ ok: false, code: "INVITE_INVALID" });
    expect(join(RESPONDENT, "inv-1")).toMatchObject({ ok: true });
    expect(join(ADJUSTER, "inv-1")).toMatchObject({ ok: false, code: "INVITE_USED" });
    // One side per user: already a respondent, so the claimant invitation is refused.
    expect(join(RESPONDENT, "inv-3")).toMatchObject({ ok: false, code: "ALREADY_MEMBER" });
    expect(join(CLAIMANT, "inv-3")).toMatchObject({ ok: false, code: "ALREADY_MEMBER" });
    expect(scenario.refused({ type: "RevokeInvitation", actor: CLAIMANT, invitationId: "inv-1" }).code).toBe(
      "INVITE_USED",
    );
    scenario.at(T0 + 7 * DAY); // invitations expire 7 days after issue
    expect(join(ADJUSTER, "inv-3")).toMatchObject({ ok: false, code: "INVITE_EXPIRED" });
    scenario.at(T0 + 7 * DAY - 1);
    expect(join(ADJUSTER, "inv-3")).toMatchObject({ ok: true });
  });

  it("lets people join during Step 2 and Step 3", () => {
    const scenario = Scenario.inStep3(100_000_00, 50_000_00);
    scenario.invite("late", "claimant", true, CLAIMANT);
    expect(types(scenario.join("late-partner", "late"))).toEqual(["MemberJoined"]);
    scenario.ok(setNumber("late-partner", 90_000_00));
  });
});

describe("Step 2 opening", () => {
  it("waits for both sides, Step 1 and the start time, then opens at a Tick with a full Step 2", () => {
    const scenario = new Scenario().create({ startAt: T0 + HOUR });
    expect(openDeadlines(scenario.s)).toEqual([]); // nobody else joined yet
    scenario.cast();
    expect(openDeadlines(scenario.s)).toEqual([]); // Step 1 still open
    scenario.skipTerms();
    expect(scenario.s.phase).toBe("setup");
    expect(openDeadlines(scenario.s)).toEqual([{ key: "step2-open", kind: "step2-open", at: T0 + HOUR }]);
    expect(scenario.tickAt(T0 + HOUR - 1)).toEqual([]);
    // A late Tick still gives each side the whole of Step 2.
    const [opened] = scenario.tickAt(T0 + HOUR + 5 * MINUTE);
    expect(opened).toEqual({
      type: "Step2Opened",
      at: T0 + HOUR + 5 * MINUTE,
      closesAt: T0 + HOUR + 5 * MINUTE + DEFAULT_RULES.step2DurationMs,
      sessionEndsAt: T0 + HOUR + 5 * MINUTE + DEFAULT_RULES.maxSessionMs,
    });
  });

  it("opens with the event that closes Step 1 when the start time has passed", () => {
    const scenario = new Scenario().create({ startAt: T0 }).cast();
    scenario.advance(HOUR);
    scenario.ok({ type: "SkipTerms", actor: CLAIMANT });
    const events = scenario.ok({ type: "SkipTerms", actor: RESPONDENT });
    expect(types(events)).toEqual(["TermsSkipped", "Step1Closed", "Step2Opened"]);
    expect(scenario.s.step2OpenedAt).toBe(T0 + HOUR);
  });

  it("keeps numbers out until it opens", () => {
    const scenario = new Scenario().create({ startAt: T0 + DAY }).cast();
    expect(scenario.refused(setNumber(CLAIMANT, 100_00))).toEqual({
      ok: false,
      code: "WRONG_STEP",
      message: "Numbers can be entered once Step 2 opens.",
    });
  });
});

describe("cancel", () => {
  it("ends the session when its creator cancels in setup", () => {
    const scenario = new Scenario().create().cast({ mediator: true });
    expect(scenario.refused({ type: "Cancel", actor: RESPONDENT }).code).toBe("NOT_CREATOR");
    expect(scenario.refused({ type: "Cancel", actor: MEDIATOR }).code).toBe("NOT_CREATOR");
    expect(scenario.ok({ type: "Cancel", actor: CLAIMANT })).toEqual([
      { type: "SessionEnded", at: T0, outcome: "cancelled", side: null, by: CLAIMANT },
    ]);
    expect(scenario.s).toMatchObject({ phase: "ended", outcome: "cancelled", endedAt: T0 });
  });

  it("is refused once Step 2 has opened", () => {
    const scenario = Scenario.inStep2();
    expect(scenario.refused({ type: "Cancel", actor: CLAIMANT }).code).toBe("WRONG_STEP");
  });
});

describe("after the end", () => {
  it("refuses every command with SESSION_ENDED, and a Tick changes nothing", () => {
    const scenario = Scenario.inStep2();
    scenario.ok({ type: "Withdraw", actor: RESPONDENT });
    const commands = [
      setNumber(CLAIMANT, 100_00),
      { type: "Knock", actor: CLAIMANT },
      { type: "PostMessage", actor: MEDIATOR, messageId: "m", room: "caucus:claimant", text: "Hello" },
      { type: "Withdraw", actor: CLAIMANT },
      { type: "Cancel", actor: CLAIMANT },
      { type: "OpenJointRoom", actor: MEDIATOR },
      {
        type: "RecordConveyed",
        actor: MEDIATOR,
        itemId: "i",
        from: "claimant",
        amount: 5,
        note: null,
        counters: null,
      },
      {
        type: "IssueInvitation",
        actor: CLAIMANT,
        invitationId: "z",
        role: "claimant",
        canBid: true,
        expiresAt: T0 + DAY,
      },
      { type: "Knock", actor: OUTSIDER },
    ] as const;
    for (const command of commands) {
      expect(scenario.refused(command).code).toBe("SESSION_ENDED");
    }
    expect(scenario.tickAt(T0 + 60 * DAY)).toEqual([]);
  });
});

describe("the session's clock", () => {
  it("never runs backwards: a command stamped earlier than the last event is treated as happening at it", () => {
    const s = Scenario.inStep2();
    const last = s.s.updatedAt;
    s.at(last - 5 * MINUTE);
    const events = s.ok({ type: "SetNumber", actor: CLAIMANT, amount: 73_914_201 });
    expect(events.every((e) => e.at >= last)).toBe(true);
    expect(s.s.updatedAt).toBeGreaterThanOrEqual(last);
  });
});
