// RULES.md "Traditional mediation alongside": rooms, where the mediator is, knocks, conveyed offers, brackets.

import { describe, expect, it } from "vitest";
import type { Command, LedgerItemState, RoomId } from "../../src/engine";
import {
  CLAIMANT,
  CLAIMANT_CLIENT,
  HOUR,
  MEDIATOR,
  OUTSIDER,
  RESPONDENT,
  Scenario,
  T0,
  types,
} from "./builder";

const post = (
  actor: string,
  room: RoomId,
  text = "Can we talk?",
  messageId = `m-${actor}-${room.replace(":", "-")}`,
): Command => ({
  type: "PostMessage",
  actor,
  messageId,
  room,
  text,
});

const conveyed = (
  itemId: string,
  from: "claimant" | "respondent",
  amount: number,
  counters: string | null = null,
): Command => ({
  type: "RecordConveyed",
  actor: MEDIATOR,
  itemId,
  from,
  amount,
  note: null,
  counters,
});

const bracket = (
  itemId: string,
  from: "claimant" | "respondent",
  ourAmount: number,
  theirAmount: number,
): Command => ({
  type: "RecordBracket",
  actor: MEDIATOR,
  itemId,
  from,
  ourAmount,
  theirAmount,
  note: "Conditional",
  counters: null,
});

const update = (itemId: string, state: LedgerItemState, actor = MEDIATOR): Command => ({
  type: "UpdateLedgerItem",
  actor,
  itemId,
  state,
});

function mediationDay(): Scenario {
  return Scenario.inStep3(100_000_00, 50_000_00);
}

describe("where the mediator is", () => {
  it("is set by mediators only, with an optional future time estimate", () => {
    const scenario = mediationDay();
    const events = scenario.ok({
      type: "SetMediatorLocation",
      actor: MEDIATOR,
      location: "with_claimant",
      until: scenario.now + HOUR,
      note: "Back in an hour",
    });
    expect(events).toEqual([
      {
        type: "MediatorLocationSet",
        at: scenario.now,
        by: MEDIATOR,
        location: "with_claimant",
        until: scenario.now + HOUR,
        note: "Back in an hour",
      },
    ]);
    expect(scenario.s.mediator).toEqual({
      location: "with_claimant",
      until: scenario.now + HOUR,
      note: "Back in an hour",
      since: scenario.now,
    });
    const location = { type: "SetMediatorLocation", location: "break", until: null, note: null } as const;
    expect(scenario.refused({ ...location, actor: CLAIMANT }).code).toBe("WRONG_ROLE");
    expect(scenario.refused({ ...location, actor: MEDIATOR, until: scenario.now }).code).toBe(
      "INVALID_DEADLINE",
    );
    // "In joint session" does not require the joint room to be open.
    scenario.ok({ ...location, actor: MEDIATOR, location: "joint" });
  });

  it("lets any member of a side ask for the mediator; mediators and outsiders cannot knock", () => {
    const scenario = mediationDay();
    expect(scenario.ok({ type: "Knock", actor: CLAIMANT_CLIENT })).toEqual([
      { type: "MediatorRequested", at: scenario.now, side: "claimant", by: CLAIMANT_CLIENT },
    ]);
    expect(scenario.refused({ type: "Knock", actor: MEDIATOR }).code).toBe("WRONG_ROLE");
    expect(scenario.refused({ type: "Knock", actor: OUTSIDER }).code).toBe("NOT_A_MEMBER");
  });
});

describe("rooms and messages", () => {
  it("keeps the joint room closed until a mediator opens it", () => {
    const scenario = mediationDay();
    expect(scenario.s.jointRoomOpen).toBe(false);
    expect(scenario.refused(post(CLAIMANT, "joint")).code).toBe("ROOM_CLOSED");
    expect(scenario.refused({ type: "OpenJointRoom", actor: CLAIMANT }).code).toBe("WRONG_ROLE");
    expect(types(scenario.ok({ type: "OpenJointRoom", actor: MEDIATOR }))).toEqual(["JointRoomOpened"]);
    expect(scenario.ok({ type: "OpenJointRoom", actor: MEDIATOR })).toEqual([]); // already open
    for (const actor of [CLAIMANT, RESPONDENT, MEDIATOR, CLAIMANT_CLIENT]) {
      expect(types(scenario.ok(post(actor, "joint")))).toEqual(["MessagePosted"]);
    }
    scenario.ok({ type: "CloseJointRoom", actor: MEDIATOR });
    expect(scenario.refused(post(CLAIMANT, "joint", "Again?", "m-again")).code).toBe("ROOM_CLOSED");
  });

  it("lets a side and the mediators post in that side's caucus, never the other side", () => {
    const scenario = mediationDay();
    expect(scenario.ok(post(CLAIMANT, "caucus:claimant", "Our view"))).toEqual([
      {
        type: "MessagePosted",
        at: scenario.now,
        messageId: "m-claimant-attorney-caucus-claimant",
        room: "caucus:claimant",
        by: CLAIMANT,
        text: "Our view",
        // Stamped with who it is for: the claimant side and the mediators, never the respondent.
        audience: { sides: ["claimant"], mediators: true },
      },
    ]);
    scenario.ok(post(MEDIATOR, "caucus:claimant"));
    expect(scenario.refused(post(RESPONDENT, "caucus:claimant")).code).toBe("WRONG_SIDE");
    expect(scenario.refused(post(OUTSIDER, "caucus:claimant")).code).toBe("NOT_A_MEMBER");
  });

  it("keeps a side-only room to that side's members alone", () => {
    const scenario = mediationDay();
    scenario.ok(post(CLAIMANT_CLIENT, "side:claimant"));
    expect(scenario.refused(post(MEDIATOR, "side:claimant")).code).toBe("WRONG_ROLE");
    expect(scenario.refused(post(RESPONDENT, "side:claimant")).code).toBe("WRONG_SIDE");
  });

  it("needs 1 to 4,000 characters and a new message id", () => {
    const scenario = mediationDay();
    expect(scenario.refused(post(CLAIMANT, "side:claimant", "")).code).toBe("INVALID_INPUT");
    expect(scenario.refused(post(CLAIMANT, "side:claimant", "  \n ")).code).toBe("INVALID_INPUT");
    expect(scenario.refused(post(CLAIMANT, "side:claimant", "x".repeat(4001))).code).toBe("INVALID_INPUT");
    scenario.ok(post(CLAIMANT, "side:claimant", "x".repeat(4000), "long"));
    expect(scenario.refused(post(CLAIMANT, "side:claimant", "again", "long")).code).toBe("CONFLICT");
  });

  it("works before Step 2 opens", () => {
    const scenario = new Scenario().create({ startAt: T0 + HOUR }).cast();
    scenario.ok(post(MEDIATOR, "caucus:respondent"));
    scenario.ok(conveyed("c1", "claimant", 200_000_00));
  });
});

describe("the ledger of conveyed offers and brackets", () => {
  it("records conveyed positions (mediators only), which start as conveyed", () => {
    const scenario = mediationDay();
    expect(scenario.ok(conveyed("c1", "respondent", 10_000_00))).toEqual([
      {
        type: "LedgerItemRecorded",
        at: scenario.now,
        itemId: "c1",
        by: MEDIATOR,
        item: { kind: "conveyed", from: "respondent", amount: 10_000_00 },
        note: null,
        counters: null,
      },
    ]);
    expect(scenario.s.ledger[0]).toMatchObject({ itemId: "c1", state: "conveyed", recordedBy: MEDIATOR });
    expect(scenario.refused({ ...conveyed("c2", "claimant", 5), actor: CLAIMANT } as Command).code).toBe(
      "WRONG_ROLE",
    );
    expect(scenario.refused(conveyed("c1", "claimant", 5)).code).toBe("CONFLICT");
    expect(scenario.refused(conveyed("c3", "claimant", 0)).code).toBe("INVALID_AMOUNT");
  });

  it("marks the item a counter answers as countered", () => {
    const scenario = mediationDay();
    scenario.ok(conveyed("c1", "respondent", 10_000_00));
    const events = scenario.ok(conveyed("c2", "claimant", 150_000_00, "c1"));
    expect(types(events)).toEqual(["LedgerItemRecorded", "LedgerItemUpdated"]);
    expect(events[1]).toMatchObject({ itemId: "c1", state: "countered" });
    expect(scenario.s.ledger.map((item) => [item.itemId, item.state, item.counters])).toEqual([
      ["c1", "countered", null],
      ["c2", "conveyed", "c1"],
    ]);
    expect(scenario.refused(conveyed("c3", "respondent", 20_000_00, "missing")).code).toBe(
      "LEDGER_ITEM_NOT_FOUND",
    );
    expect(scenario.refused(conveyed("c3", "claimant", 20_000_00, "c2")).code).toBe("WRONG_SIDE");
    expect(scenario.refused(conveyed("c3", "claimant", 20_000_00, "c1")).code).toBe("INVALID_TRANSITION");
  });

  it("records a bracket as proposed; it can be conveyed, then accepted, rejected, countered or withdrawn", () => {
    const scenario = mediationDay();
    scenario.ok(bracket("b1", "claimant", 120_000_00, 80_000_00));
    expect(scenario.s.ledger[0]).toMatchObject({ state: "proposed", note: "Conditional" });
    expect(scenario.refused(update("b1", "accepted")).code).toBe("INVALID_TRANSITION");
    expect(scenario.refused(update("b1", "conveyed", CLAIMANT)).code).toBe("WRONG_ROLE");
    expect(scenario.refused(update("missing", "conveyed")).code).toBe("LEDGER_ITEM_NOT_FOUND");
    scenario.ok(update("b1", "conveyed"));
    scenario.ok(bracket("b2", "respondent", 70_000_00, 110_000_00));
    scenario.ok(update("b2", "withdrawn"));
    expect(scenario.refused(update("b2", "conveyed")).code).toBe("INVALID_TRANSITION");
    scenario.ok(update("b1", "rejected"));
    expect(scenario.refused(update("b1", "accepted")).code).toBe("INVALID_TRANSITION");
  });

  it("keeps a drafted bracket its side's until conveyed, then conveys it with everything needed to show it", () => {
    const scenario = mediationDay();
    scenario.ok(bracket("b1", "respondent", 70_000_00, 110_000_00));
    expect(scenario.s.ledger.find((i) => i.itemId === "b1")).toMatchObject({
      state: "proposed",
      shared: false,
    });
    const [conveyed] = scenario.ok(update("b1", "conveyed"));
    expect(conveyed).toMatchObject({
      type: "LedgerItemUpdated",
      state: "conveyed",
      from: "respondent",
      shared: true,
      details: {
        itemId: "b1",
        item: { kind: "bracket", from: "respondent", ourAmount: 70_000_00, theirAmount: 110_000_00 },
      },
    });
    // Later updates of a shared item need no details.
    const [rejected] = scenario.ok(update("b1", "rejected"));
    expect(rejected).not.toHaveProperty("details");
    // A draft withdrawn before it was conveyed stays private.
    scenario.ok(bracket("b2", "claimant", 90_000_00, 60_000_00));
    const [withdrawn] = scenario.ok(update("b2", "withdrawn"));
    expect(withdrawn).toMatchObject({ shared: false, from: "claimant" });
  });

  it("a counter-bracket counters its item only when it is conveyed, so a draft reveals nothing", () => {
    const scenario = mediationDay();
    scenario.ok(conveyed("c1", "respondent", 40_000_00));
    const drafted = scenario.ok({
      ...bracket("b1", "claimant", 90_000_00, 60_000_00),
      counters: "c1",
    } as Command);
    expect(drafted.map((e) => e.type)).toEqual(["LedgerItemRecorded"]);
    expect(scenario.s.ledger.find((i) => i.itemId === "c1")?.state).toBe("conveyed");
    const events = scenario.ok(update("b1", "conveyed"));
    expect(events).toEqual([
      expect.objectContaining({ itemId: "b1", state: "conveyed", shared: true }),
      expect.objectContaining({ itemId: "c1", state: "countered", shared: true, from: "respondent" }),
    ]);
  });

  it("turns an accepted bracket's two amounts into conveyed positions of each side", () => {
    const scenario = mediationDay();
    scenario.ok(bracket("b1", "respondent", 70_000_00, 110_000_00));
    scenario.ok(update("b1", "conveyed"));
    const events = scenario.ok(update("b1", "accepted"));
    expect(events).toEqual([
      {
        type: "LedgerItemUpdated",
        at: scenario.now,
        itemId: "b1",
        by: MEDIATOR,
        state: "accepted",
        from: "respondent",
        shared: true,
      },
      {
        type: "LedgerItemRecorded",
        at: scenario.now,
        itemId: "b1-ours",
        by: MEDIATOR,
        item: { kind: "conveyed", from: "respondent", amount: 70_000_00 },
        note: null,
        counters: null,
      },
      {
        type: "LedgerItemRecorded",
        at: scenario.now,
        itemId: "b1-theirs",
        by: MEDIATOR,
        item: { kind: "conveyed", from: "claimant", amount: 110_000_00 },
        note: null,
        counters: null,
      },
    ]);
    // Accepting a conveyed position records the acceptance; it does not make a deal by itself.
    scenario.ok(update("b1-ours", "accepted"));
    expect(scenario.s.phase).toBe("step3");
  });
});
