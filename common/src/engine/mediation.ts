// The traditional mediation day around the numbers: where the mediator is, knocks, rooms and messages, and
// the ledger of conveyed offers and brackets. Ledger amounts are positions said aloud, not confidential numbers.

import type { CommandOf, Refused } from "./guards";
import { accept, asMediator, asMember, asSideMember, refuse } from "./guards";
import { audienceOf } from "./rooms";
import type {
  Context,
  Decision,
  EventOf,
  LedgerItem,
  LedgerItemState,
  SessionEvent,
  SessionState,
} from "./types";
import { otherSide } from "./types";

// Lengths, ids and amounts are the command schemas' (./commands.ts): a command reaching a handler has passed them.
export { MAX_MESSAGE_LENGTH, MAX_NOTE_LENGTH } from "./commands";

const MEDIATOR_ONLY_LEDGER = "Only a mediator records conveyed offers and brackets.";

/** Ledger states an item may move to from each state; the rest are final. */
export const LEDGER_TRANSITIONS: Readonly<Record<LedgerItemState, readonly LedgerItemState[]>> = {
  proposed: ["conveyed", "withdrawn"],
  conveyed: ["accepted", "rejected", "countered", "withdrawn"],
  accepted: [],
  rejected: [],
  countered: [],
  withdrawn: [],
};

export function setMediatorLocation(
  s: SessionState,
  c: CommandOf<"SetMediatorLocation">,
  ctx: Context,
): Decision {
  const found = asMediator(s, c.actor, "Only a mediator can say where the mediator is.");
  if (!found.ok) return found;
  if (c.until !== null && !(c.until > ctx.now)) {
    return refuse("INVALID_DEADLINE", "The time estimate must be in the future.");
  }
  return accept([
    {
      type: "MediatorLocationSet",
      at: ctx.now,
      by: c.actor,
      location: c.location,
      until: c.until,
      note: c.note,
    },
  ]);
}

export function knock(s: SessionState, c: CommandOf<"Knock">, ctx: Context): Decision {
  const found = asSideMember(s, c.actor, "Only a side can ask for the mediator.");
  if (!found.ok) return found;
  return accept([{ type: "MediatorRequested", at: ctx.now, side: found.side, by: c.actor }]);
}

/** Opening an open room (or closing a closed one) changes nothing and is not an error. */
export function setJointRoom(
  s: SessionState,
  c: CommandOf<"OpenJointRoom"> | CommandOf<"CloseJointRoom">,
  ctx: Context,
): Decision {
  const found = asMediator(s, c.actor, "Only a mediator opens and closes the joint room.");
  if (!found.ok) return found;
  const open = c.type === "OpenJointRoom";
  if (s.jointRoomOpen === open) return accept([]);
  return accept([{ type: open ? "JointRoomOpened" : "JointRoomClosed", at: ctx.now, by: c.actor }]);
}

export function postMessage(s: SessionState, c: CommandOf<"PostMessage">, ctx: Context): Decision {
  const found = asMember(s, c.actor);
  if (!found.ok) return found;
  const role = found.member.role;
  const [kind, roomSide] = c.room.split(":") as [
    "joint" | "caucus" | "side",
    "claimant" | "respondent" | undefined,
  ];
  if (kind === "joint" && !s.jointRoomOpen) {
    return refuse("ROOM_CLOSED", "The joint room is closed. The mediator opens it for joint sessions.");
  }
  if (kind === "caucus" && role !== roomSide && role !== "mediator") {
    return refuse("WRONG_SIDE", "Only that side and the mediators can post in a side's caucus room.");
  }
  if (kind === "side" && role === "mediator") {
    return refuse(
      "WRONG_ROLE",
      "A side-only room is for that side's members alone; mediators cannot post there.",
    );
  }
  if (kind === "side" && role !== roomSide) {
    return refuse("WRONG_SIDE", "Only that side's members can post in its side-only room.");
  }
  if (s.messages.some((message) => message.messageId === c.messageId)) {
    return refuse("CONFLICT", "This message has already been posted.");
  }
  return accept([
    {
      type: "MessagePosted",
      at: ctx.now,
      messageId: c.messageId,
      room: c.room,
      by: c.actor,
      text: c.text,
      audience: audienceOf(c.room),
    },
  ]);
}

function findItem(s: SessionState, itemId: string): LedgerItem | undefined {
  return s.ledger.find((item) => item.itemId === itemId);
}

/** Checks shared by conveyed offers and brackets: a fresh id and a valid item to counter. */
function checkNewItem(
  s: SessionState,
  c: CommandOf<"RecordConveyed"> | CommandOf<"RecordBracket">,
  ctx: Context,
): Refused | SessionEvent[] {
  if (findItem(s, c.itemId)) return refuse("CONFLICT", "A ledger item with this id already exists.");
  if (c.counters === null) return [];
  const countered = findItem(s, c.counters);
  if (!countered) return refuse("LEDGER_ITEM_NOT_FOUND", "The item this counters is not in the ledger.");
  if (countered.item.from === c.from) {
    return refuse("WRONG_SIDE", "A counter comes from the other side of the item it counters.");
  }
  if (!LEDGER_TRANSITIONS[countered.state].includes("countered")) {
    return refuse(
      "INVALID_TRANSITION",
      `Only a conveyed item can be countered; this one is ${countered.state}.`,
    );
  }
  // A drafted bracket counters nothing yet: the other side learns of the counter when it is conveyed.
  return c.type === "RecordBracket" ? [] : [counteredBy(countered, c.actor, ctx)];
}

function counteredBy(countered: LedgerItem, actor: string, ctx: Context): SessionEvent {
  return {
    type: "LedgerItemUpdated",
    at: ctx.now,
    itemId: countered.itemId,
    by: actor,
    state: "countered",
    from: countered.item.from,
    shared: countered.shared,
  };
}

export function recordConveyed(s: SessionState, c: CommandOf<"RecordConveyed">, ctx: Context): Decision {
  return recordItem(s, c, ctx, { kind: "conveyed", from: c.from, amount: c.amount });
}

export function recordBracket(s: SessionState, c: CommandOf<"RecordBracket">, ctx: Context): Decision {
  const item = { kind: "bracket" as const, from: c.from, ourAmount: c.ourAmount, theirAmount: c.theirAmount };
  return recordItem(s, c, ctx, item);
}

/** One path for both ledger records: mediator only, a new id, and what it counters. */
function recordItem(
  s: SessionState,
  c: CommandOf<"RecordConveyed"> | CommandOf<"RecordBracket">,
  ctx: Context,
  item: EventOf<"LedgerItemRecorded">["item"],
): Decision {
  const found = asMediator(s, c.actor, MEDIATOR_ONLY_LEDGER);
  if (!found.ok) return found;
  const counter = checkNewItem(s, c, ctx);
  if (!Array.isArray(counter)) return counter;
  return accept([
    {
      type: "LedgerItemRecorded",
      at: ctx.now,
      itemId: c.itemId,
      by: c.actor,
      item,
      note: c.note,
      counters: c.counters,
    },
    ...counter,
  ]);
}

/** Ids of the two conveyed positions an accepted bracket turns into. */
export function bracketPositionIds(itemId: string): { ours: string; theirs: string } {
  return { ours: `${itemId}-ours`, theirs: `${itemId}-theirs` };
}

export function updateLedgerItem(s: SessionState, c: CommandOf<"UpdateLedgerItem">, ctx: Context): Decision {
  const found = asMediator(s, c.actor, MEDIATOR_ONLY_LEDGER);
  if (!found.ok) return found;
  const entry = findItem(s, c.itemId);
  if (!entry) return refuse("LEDGER_ITEM_NOT_FOUND", "There is no such item in the ledger.");
  if (!LEDGER_TRANSITIONS[entry.state].includes(c.state)) {
    return refuse("INVALID_TRANSITION", `An item that is ${entry.state} cannot become ${c.state}.`);
  }
  // Conveying a drafted bracket shows it to the other side for the first time, with everything needed to show it.
  const shared = entry.shared || c.state === "conveyed";
  const { state: _state, shared: _shared, ...details } = entry;
  const updated: SessionEvent = {
    type: "LedgerItemUpdated",
    at: ctx.now,
    itemId: c.itemId,
    by: c.actor,
    state: c.state,
    from: entry.item.from,
    shared,
    ...(shared && !entry.shared ? { details } : {}),
  };
  const { item } = entry;
  if (updated.details && entry.counters) {
    // Conveying a counter-bracket is when the item it answers becomes countered (if it still can be).
    const countered = findItem(s, entry.counters);
    if (countered && LEDGER_TRANSITIONS[countered.state].includes("countered")) {
      return accept([updated, counteredBy(countered, c.actor, ctx)]);
    }
  }
  if (c.state !== "accepted" || item.kind !== "bracket") return accept([updated]);
  // "We will go to X if you go to Y", accepted: X and Y become positions conveyed by each side.
  const ids = bracketPositionIds(c.itemId);
  if (findItem(s, ids.ours) || findItem(s, ids.theirs)) {
    return refuse("CONFLICT", "The ledger already has items with the ids this bracket's positions need.");
  }
  const position = (itemId: string, from: typeof item.from, amount: number): SessionEvent => ({
    type: "LedgerItemRecorded",
    at: ctx.now,
    itemId,
    by: c.actor,
    item: { kind: "conveyed", from, amount },
    note: null,
    counters: null,
  });
  return accept([
    updated,
    position(ids.ours, item.from, item.ourAmount),
    position(ids.theirs, otherSide(item.from), item.theirAmount),
  ]);
}
