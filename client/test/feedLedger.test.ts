import type { VisibleEvent } from "@backchannel/common";
import { describe, expect, it } from "vitest";
import { buildFeed, describeEvent, type FeedContext, ledgerItemName } from "../src/session/feed";
import type { LoggedEvent } from "../src/session/reduce";
import { NAMES, T0, USERS } from "./fixtures";

const ctx: FeedContext = {
  members: [
    { userId: USERS.claimant, name: NAMES.claimant, role: "claimant" },
    { userId: USERS.mediator, name: NAMES.mediator, role: "mediator" },
  ],
  viewer: { userId: USERS.claimant, side: "claimant" },
  currency: "USD",
  clock: () => "",
};
const money = (c: number) => `$${(c / 100).toFixed(2)}`;

const log = (events: VisibleEvent[]): LoggedEvent[] => events.map((event, i) => ({ version: i + 1, event }));

describe("feed: a ledger item's update names the item", () => {
  it("a conveyed demand marked accepted says which one, with its amount as the viewer saw it", () => {
    const items = buildFeed(
      log([
        {
          type: "LedgerItemRecorded",
          at: T0,
          itemId: "i1",
          by: USERS.mediator,
          item: { kind: "conveyed", from: "claimant", amount: 15_000_000 },
          note: null,
          counters: null,
        },
        {
          type: "LedgerItemUpdated",
          at: T0 + 1,
          itemId: "i1",
          by: USERS.mediator,
          state: "accepted",
          from: "claimant",
          shared: true,
        },
      ] as VisibleEvent[]),
      ctx,
    );
    expect(items[0]!.text).toBe(
      "The claimant's conveyed demand of $150,000.00 is now accepted (Mia Mediator).",
    );
    expect(items.map((i) => i.text).join(" ")).not.toContain("A conveyed item was marked");
  });

  it("a bracket first seen when it is conveyed is named from the update's details", () => {
    const ev = {
      type: "LedgerItemUpdated",
      at: T0,
      itemId: "b1",
      by: USERS.mediator,
      state: "conveyed",
      from: "respondent",
      shared: true,
      details: {
        itemId: "b1",
        recordedAt: T0 - 1,
        recordedBy: USERS.mediator,
        item: { kind: "bracket", from: "respondent", ourAmount: 10_000_000, theirAmount: 14_000_000 },
        note: null,
        counters: null,
      },
    } as VisibleEvent;
    expect(describeEvent(ev, ctx)?.text).toBe(
      "The respondent's bracket (“we go to $100,000.00 if you go to $140,000.00”) is now conveyed (Mia Mediator).",
    );
  });

  it("an item the viewer never saw recorded is named by its side only", () => {
    expect(ledgerItemName(undefined, "respondent", money)).toBe("an item from the respondent");
  });
});
