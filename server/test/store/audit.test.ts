import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  AUDIT_FORMAT,
  type AuditExport,
  AuditFormatError,
  buildAuditExport,
  verifyAuditExport,
} from "../../src/store/audit";
import { newDataKey } from "../../src/store/crypto";
import { appendEvents, GENESIS_HASH, readEvents, type StoredEvent } from "../../src/store/event-log";
import { describeBackends } from "../support/db";
import { createSession, sealedFields, storedChain } from "./fixtures";

const SECRET_AMOUNT = 73914205;
const AT = 1_732_500_000_000;

function events(actor: string) {
  return [
    { type: "SessionCreated", at: AT, actor, payload: { title: "Acme v. Widget", currency: "USD" } },
    { type: "BidSet", at: AT + 1000, actor, payload: { side: "claimant", amount: SECRET_AMOUNT } },
    { type: "CaucusMessage", at: AT + 2000, actor, payload: { room: "claimant", text: "between us" } },
    { type: "BidSet", at: AT + 3000, actor, payload: { side: "respondent", amount: 120 } },
  ];
}

const everything = () => ({ content: true });
// A mediator sees that a side changed its number, but not the other rooms' messages.
const mediatorView = (e: StoredEvent) =>
  e.type === "CaucusMessage"
    ? { content: false }
    : e.type === "BidSet"
      ? { content: true, view: { changed: e.payload.side } }
      : { content: true };
const respondentView = (e: StoredEvent) =>
  e.type === "CaucusMessage" || (e.type === "BidSet" && e.payload.side === "claimant")
    ? { content: false, view: { type: e.type === "BidSet" ? "BidSet" : "Hidden" } }
    : { content: true };

function clone(x: AuditExport): AuditExport {
  return JSON.parse(JSON.stringify(x)) as AuditExport;
}

describe("audit export", () => {
  const sessionId = randomUUID();
  const chain = storedChain(sessionId, events(randomUUID()), newDataKey());

  it("lists every event with its digest and chain hash, and verifies", () => {
    const file = buildAuditExport(sessionId, "claimant", chain, sealedFields, everything);
    expect(file).toMatchObject({ format: AUDIT_FORMAT, sessionId, viewer: { role: "claimant" } });
    expect(Date.parse(file.exportedAt)).not.toBeNaN();
    expect(file.events.map((e) => e.version)).toEqual([1, 2, 3, 4]);
    expect(file.finalChainHash).toBe(chain.at(-1)!.chainHash);
    expect(verifyAuditExport(clone(file))).toEqual({
      ok: true,
      events: 4,
      finalChainHash: chain.at(-1)!.chainHash,
    });
  });

  it("shows only the public part of an event: no amount, no ciphertext", () => {
    const file = buildAuditExport(sessionId, "claimant", chain, sealedFields, everything);
    const bid = file.events[1]!;
    expect(bid.content).toEqual({
      sessionId,
      version: 2,
      type: "BidSet",
      at: AT + 1000,
      actor: chain[1]!.actor,
      payload: { side: "claimant" },
    });
    expect(bid.sealedHash).toMatch(/^[0-9a-f]{64}$/);
    // Even an event without a confidential field has a sealed part: its random salt.
    expect(file.events[0]!.sealedHash).toMatch(/^[0-9a-f]{64}$/);
    const text = JSON.stringify(file);
    expect(text).not.toContain(String(SECRET_AMOUNT));
    expect(text).not.toContain("$sealed");
    expect(text).not.toContain((chain[1]!.payload.amount as { $sealed: string }).$sealed);
  });

  it("gives a viewer without content only the chain links and the caller's view", () => {
    const file = buildAuditExport(sessionId, "respondent", chain, sealedFields, respondentView);
    expect(file.viewer).toEqual({ role: "respondent" });
    expect(file.events[1]).toEqual({
      version: 2,
      digest: chain[1]!.digest,
      chainHash: chain[1]!.chainHash,
      view: { type: "BidSet" },
    });
    expect(file.events[2]).toEqual({
      version: 3,
      digest: chain[2]!.digest,
      chainHash: chain[2]!.chainHash,
      view: { type: "Hidden" },
    });
    expect(JSON.stringify(file)).not.toContain("between us");
    expect(file.events[3]!.content?.payload).toEqual({ side: "respondent" });
    expect(verifyAuditExport(clone(file))).toMatchObject({ ok: true, events: 4 });
    const mediator = buildAuditExport(sessionId, "mediator", chain, sealedFields, mediatorView);
    expect(mediator.events[1]!.view).toEqual({ changed: "claimant" });
    expect(verifyAuditExport(clone(mediator))).toMatchObject({ ok: true, events: 4 });
  });

  it("verifies an empty session against GENESIS", () => {
    const file = buildAuditExport(sessionId, "mediator", [], sealedFields, everything);
    expect(file.finalChainHash).toBe(GENESIS_HASH);
    expect(verifyAuditExport(clone(file))).toEqual({ ok: true, events: 0, finalChainHash: GENESIS_HASH });
  });

  it("refuses to export a confidential field that is not sealed", () => {
    const leaky = chain.map((e) =>
      e.version === 2 ? { ...e, payload: { side: "claimant", amount: SECRET_AMOUNT } } : e,
    );
    expect(() => buildAuditExport(sessionId, "claimant", leaky, sealedFields, everything)).toThrow(
      /"amount" is not sealed/,
    );
    expect(() => buildAuditExport(randomUUID(), "claimant", chain, sealedFields, everything)).toThrow(
      /another session/,
    );
  });

  describe("detects tampering with the file", () => {
    const base = () => clone(buildAuditExport(sessionId, "claimant", chain, sealedFields, everything));
    const cases: [string, (f: AuditExport) => void, number, RegExp][] = [
      [
        "edited public content",
        (f) => {
          f.events[2]!.content!.payload.text = "between vs";
        },
        3,
        /does not match its public hash/,
      ],
      [
        "edited content and dropped publicHash",
        (f) => {
          f.events[2]!.content!.payload.text = "between vs";
          delete f.events[2]!.publicHash;
        },
        3,
        /does not match the digest/,
      ],
      [
        "edited time",
        (f) => {
          f.events[0]!.content!.at += 1;
          f.events[0]!.at = f.events[0]!.content!.at;
        },
        1,
        /public hash/,
      ],
      [
        "mismatched top-level time",
        (f) => {
          f.events[1]!.at = 5;
        },
        2,
        /time does not match/,
      ],
      [
        "swapped sealed hash",
        (f) => {
          f.events[1]!.sealedHash = f.events[3]!.sealedHash;
        },
        2,
        /does not match the digest/,
      ],
      [
        "edited digest",
        (f) => {
          f.events[1]!.digest = f.events[1]!.digest.replace(/^./, (c) => (c === "a" ? "b" : "a"));
        },
        2,
        /chain hash does not follow/,
      ],
      ["removed event", (f) => void f.events.splice(1, 1), 2, /expected version 2/],
      ["reordered events", (f) => void f.events.reverse(), 1, /expected version 1/],
      [
        "content from another session",
        (f) => {
          f.events[0]!.content!.sessionId = randomUUID();
        },
        1,
        /another session/,
      ],
      [
        "wrong final hash",
        (f) => {
          f.finalChainHash = GENESIS_HASH;
        },
        4,
        /final chain hash/,
      ],
      ["truncated without fixing the final hash", (f) => void f.events.pop(), 3, /final chain hash/],
      [
        "non-hex chain hash",
        (f) => {
          f.events[3]!.chainHash = "zz";
        },
        4,
        /not a sha256 hex/,
      ],
    ];
    for (const [name, tamper, brokenAt, reason] of cases) {
      it(name, () => {
        const file = base();
        tamper(file);
        const verdict = verifyAuditExport(file);
        expect(verdict).toMatchObject({ ok: false, brokenAt });
        expect(verdict.ok === false && verdict.reason).toMatch(reason);
      });
    }
  });

  it("throws AuditFormatError for something that is not an audit export", () => {
    const valid = buildAuditExport(sessionId, "claimant", chain, sealedFields, everything);
    for (const bad of [
      null,
      [],
      "text",
      { ...valid, format: "other/1" },
      { ...valid, events: {} },
      { ...valid, finalChainHash: 1 },
    ]) {
      expect(() => verifyAuditExport(bad)).toThrow(AuditFormatError);
    }
  });
});

describeBackends("audit of the stored log", ({ db }) => {
  async function storedSession() {
    const { sessionId, userId, dataKey } = await createSession(db());
    await db().tx((q) => appendEvents(q, sessionId, 0, GENESIS_HASH, events(userId), dataKey, sealedFields));
    return sessionId;
  }

  // Edits a stored row behind the application's back, as an attacker with database access could.
  async function tamper(sql: string, params: unknown[]) {
    await db().tx(async (q) => {
      await q.query("ALTER TABLE session_events DISABLE TRIGGER session_events_append_only");
      await q.query(sql, params);
      await q.query("ALTER TABLE session_events ENABLE TRIGGER session_events_append_only");
    });
  }

  it("exports the stored log, and its final hash is the session's chain head", async () => {
    const sessionId = await storedSession();
    const file = buildAuditExport(
      sessionId,
      "mediator",
      await readEvents(db(), sessionId),
      sealedFields,
      mediatorView,
    );
    const head = await db().query<{ chain_hash: string }>("SELECT chain_hash FROM sessions WHERE id = $1", [
      sessionId,
    ]);
    expect(verifyAuditExport(clone(file))).toEqual({
      ok: true,
      events: 4,
      finalChainHash: head.rows[0]!.chain_hash,
    });
  });

  it("reports the version whose stored payload changed by one byte", async () => {
    const sessionId = await storedSession();
    await tamper(
      `UPDATE session_events SET payload = jsonb_set(payload, '{text}', to_jsonb('between vs'::text))
        WHERE session_id = $1 AND version = 3`,
      [sessionId],
    );
    const stored = await readEvents(db(), sessionId);
    expect(stored[2]!.payload.text).toBe("between vs");
    const verdict = verifyAuditExport(
      clone(buildAuditExport(sessionId, "claimant", stored, sealedFields, everything)),
    );
    expect(verdict).toEqual({ ok: false, brokenAt: 3, reason: "content does not match the digest" });
  });

  it("reports the version whose stored ciphertext changed", async () => {
    const sessionId = await storedSession();
    const before = (await readEvents(db(), sessionId))[1]!.payload.amount as { $sealed: string };
    const flipped =
      before.$sealed.slice(0, -2) + (before.$sealed.at(-2) === "A" ? "B" : "A") + before.$sealed.at(-1);
    await tamper(
      `UPDATE session_events SET payload = jsonb_set(payload, '{amount}', jsonb_build_object('$sealed', $2::text))
        WHERE session_id = $1 AND version = 2`,
      [sessionId, flipped],
    );
    const stored = await readEvents(db(), sessionId);
    const verdict = verifyAuditExport(
      clone(buildAuditExport(sessionId, "claimant", stored, sealedFields, everything)),
    );
    expect(verdict).toEqual({ ok: false, brokenAt: 2, reason: "content does not match the digest" });
  });

  it("reports the version whose stored digest changed, even to a viewer who sees no content", async () => {
    const sessionId = await storedSession();
    await tamper(
      `UPDATE session_events SET digest = overlay(digest placing (CASE WHEN left(digest, 1) = 'a' THEN 'b' ELSE 'a' END) from 1 for 1)
        WHERE session_id = $1 AND version = 2`,
      [sessionId],
    );
    const stored = await readEvents(db(), sessionId);
    const verdict = verifyAuditExport(
      clone(buildAuditExport(sessionId, "respondent", stored, sealedFields, () => ({ content: false }))),
    );
    expect(verdict).toEqual({
      ok: false,
      brokenAt: 2,
      reason: "chain hash does not follow from the previous hash and this digest",
    });
  });
});
