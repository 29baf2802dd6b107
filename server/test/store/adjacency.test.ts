// An audit export must not let its reader tell whether events hidden from it happened between two of its entries.
// Each entry names its event's place in the session chain (`anchor`); with the event's public part and the hash of
// its ciphertexts a reader could recompute the session chain's digest for each guessed version and test whether
// anchor[k+1] = sha256(anchor[k] + digest). The export therefore shows only a commitment to the ciphertexts (whose
// hash covers a random salt), and this test plays the reader with every candidate it could try.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/store/canonical-json";
import { newDataKey } from "../../src/store/crypto";
import { chainHash, digestFromParts, sha256Hex } from "../../src/store/event-log";
import { chainLog, exportStream, newSigner, type PlainEvent, sealEvents } from "./stream-fixtures";

const ALL = ["claimant", "respondent", "mediator"] as const;

function log(withHidden: boolean) {
  const at = 1_700_000_000_000;
  const events: PlainEvent[] = [
    { type: "SessionCreated", at, actor: "u-c", payload: { title: "T" }, streams: ALL },
    { type: "MessagePosted", at: at + 1, actor: "u-m", payload: { text: "hello" }, streams: ALL },
  ];
  if (withHidden) {
    events.push({
      type: "ProposalAnswered",
      at: at + 2,
      actor: "u-r",
      payload: { side: "respondent", accept: false },
      streams: ["respondent"],
    });
  }
  events.push({ type: "MessagePosted", at: at + 3, actor: "u-m", payload: { text: "again" }, streams: ALL });
  return events;
}

/** Every way the reader could try to link entry k+1's anchor to entry k's, from the export alone. */
function readerFindsAdjacent(file: ReturnType<typeof exportStream>, k: number): boolean {
  const a = file.events[k - 1];
  const b = file.events[k];
  if (!a || !b) throw new Error("no such entries");
  const { stream: _s, position: _p, ...rest } = b.content;
  for (let version = 1; version <= 10; version++) {
    const publicHash = sha256Hex(canonicalJson({ ...rest, version }));
    for (const sealed of [b.sealed, "", sha256Hex(b.sealed)]) {
      if (chainHash(a.anchor, digestFromParts(publicHash, sealed)) === b.anchor) return true;
    }
  }
  return false;
}

describe("issue 6 point 2: an audit export shows no gap", () => {
  it("a reader cannot tell from anchors whether something hidden happened between two of its entries", () => {
    const signer = newSigner();
    for (const withHidden of [false, true]) {
      const sessionId = randomUUID();
      const file = exportStream(
        chainLog(sessionId, sealEvents(sessionId, log(withHidden), newDataKey())),
        "claimant",
        signer,
      );
      expect(file.events).toHaveLength(3);
      expect(readerFindsAdjacent(file, 1)).toBe(false);
      expect(readerFindsAdjacent(file, 2)).toBe(false);
    }
  });

  it("the reader's attack works when the ciphertexts' hash is known (so the test above can fail)", () => {
    const sessionId = randomUUID();
    const built = chainLog(sessionId, sealEvents(sessionId, log(false), newDataKey()));
    const file = exportStream(built, "claimant", newSigner());
    // What the old format showed: the hash of the ciphertexts. With it, adjacency is testable.
    const second = built.events[1];
    if (!second) throw new Error("no event");
    const { ciphertexts } = {
      ciphertexts: Object.fromEntries(
        Object.entries(second.payload)
          .filter(([, v]) => typeof v === "object" && v !== null && "$sealed" in v)
          .map(([k, v]) => [k, (v as { $sealed: string }).$sealed]),
      ),
    };
    const sealedHash = sha256Hex(canonicalJson(ciphertexts));
    const leaky = structuredClone(file);
    (leaky.events[1] as { sealed: string }).sealed = sealedHash;
    expect(readerFindsAdjacent(leaky, 1)).toBe(true);
  });
});
