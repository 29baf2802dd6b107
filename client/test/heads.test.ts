// The signed stream heads a browser keeps (localStorage), the party's own record for `audit:verify --heads`.
import { signedHeadSchema } from "@backchannel/common";
import { describe, expect, it, vi } from "vitest";
import { type HeadStorage, headsFile, savedHeads, saveHead } from "../src/session/heads";
import { headFor, SESSION_ID } from "./fixtures";

const KEY = `backchannel:heads:${SESSION_ID}`;

function memoryStorage(): HeadStorage & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => {
      items.set(key, value);
    },
  };
}

const positions = (store: HeadStorage) => savedHeads(SESSION_ID, store).map((h) => h.position);

describe("saved heads", () => {
  it("keeps one head per position, in position order; a head received again replaces the earlier copy", () => {
    const store = memoryStorage();
    for (const p of [3, 1, 2]) saveHead(headFor("respondent", p), store);
    const again = { ...headFor("respondent", 2), signature: "B".repeat(86) };
    saveHead(again, store);
    expect(positions(store)).toEqual([1, 2, 3]);
    expect(savedHeads(SESSION_ID, store)[1]).toEqual(again);
    expect(JSON.parse(store.items.get(KEY)!)).toEqual(savedHeads(SESSION_ID, store));
  });

  it("keeps the newest 100 heads", () => {
    const store = memoryStorage();
    for (let p = 1; p <= 130; p++) saveHead(headFor("mediator", p), store);
    expect(positions(store)).toEqual(Array.from({ length: 100 }, (_, k) => 31 + k));
    // An old head arriving late (a sync answer from before) does not push out a newer one.
    saveHead(headFor("mediator", 5), store);
    expect(positions(store)).toEqual(Array.from({ length: 100 }, (_, k) => 31 + k));
  });

  it("ignores position 0 (an empty stream pins nothing) without touching the storage", () => {
    const store = memoryStorage();
    const setItem = vi.spyOn(store, "setItem");
    saveHead(headFor("claimant", 0), store);
    expect(setItem).not.toHaveBeenCalled();
    expect(savedHeads(SESSION_ID, store)).toEqual([]);
  });

  it("keeps each session under its own key", () => {
    const store = memoryStorage();
    const other = "0b8e0a57-3f0e-4c1d-9a7e-2f5d7c1e9b20";
    saveHead(headFor("claimant", 1), store);
    saveHead({ ...headFor("claimant", 7), sessionId: other }, store);
    expect([...store.items.keys()].sort()).toEqual([KEY, `backchannel:heads:${other}`].sort());
    expect(positions(store)).toEqual([1]);
    expect(savedHeads(other, store).map((h) => h.position)).toEqual([7]);
  });

  it("survives a full or blocked storage: saving is skipped, the page goes on", () => {
    const full: HeadStorage = {
      getItem: () => null,
      setItem: () => {
        throw new DOMException("quota exceeded", "QuotaExceededError");
      },
    };
    expect(() => saveHead(headFor("respondent", 1), full)).not.toThrow();
    expect(savedHeads(SESSION_ID, full)).toEqual([]);
    expect(() => saveHead(headFor("respondent", 1), null)).not.toThrow();
    expect(savedHeads(SESSION_ID, null)).toEqual([]);
    // In Node there is no localStorage at all: the default storage is none.
    expect(() => saveHead(headFor("respondent", 1))).not.toThrow();
    expect(savedHeads(SESSION_ID)).toEqual([]);
  });

  // KNOWN BUG (client/src/session/heads.ts): savedHeads calls store.getItem outside its try, so a storage whose
  // reads throw makes saveHead throw, and the controller calls saveHead before applying a push, an open ack or a
  // sync answer. Turn this back into `it` once getItem is guarded.
  it("survives a storage whose reads throw (storage disabled by the browser)", () => {
    const blocked: HeadStorage = {
      getItem: () => {
        throw new DOMException("access denied", "SecurityError");
      },
      setItem: () => {
        throw new DOMException("access denied", "SecurityError");
      },
    };
    expect(() => saveHead(headFor("respondent", 1), blocked)).not.toThrow();
    expect(savedHeads(SESSION_ID, blocked)).toEqual([]);
    expect(JSON.parse(headsFile(SESSION_ID, blocked)).heads).toEqual([]);
  });

  it("starts over from a damaged record instead of failing", () => {
    const store = memoryStorage();
    store.setItem(KEY, "{not json");
    expect(savedHeads(SESSION_ID, store)).toEqual([]);
    saveHead(headFor("claimant", 4), store);
    expect(positions(store)).toEqual([4]);
    store.setItem(KEY, JSON.stringify({ not: "a list" }));
    expect(savedHeads(SESSION_ID, store)).toEqual([]);
  });
});

describe("headsFile", () => {
  it("writes {format, sessionId, heads}: what audit:verify --heads reads", () => {
    const store = memoryStorage();
    for (const p of [1, 2, 3]) saveHead(headFor("claimant", p), store);
    const text = headsFile(SESSION_ID, store);
    expect(text.endsWith("}\n")).toBe(true);
    const file = JSON.parse(text);
    expect(Object.keys(file)).toEqual(["format", "sessionId", "heads"]);
    expect(file).toEqual({
      format: "backchannel-heads/1",
      sessionId: SESSION_ID,
      heads: [headFor("claimant", 1), headFor("claimant", 2), headFor("claimant", 3)],
    });
    for (const head of file.heads) expect(signedHeadSchema.safeParse(head).success).toBe(true);
  });

  it("is a valid, empty file for a session with no saved heads", () => {
    expect(JSON.parse(headsFile(SESSION_ID, memoryStorage()))).toEqual({
      format: "backchannel-heads/1",
      sessionId: SESSION_ID,
      heads: [],
    });
  });
});
