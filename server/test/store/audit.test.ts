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
import type { Queryable } from "../../src/store/db";
import {
  appendEvents,
  chainHash,
  GENESIS_HASH,
  initialStreamHeads,
  lockSession,
  readStream,
  STREAM_NAMES,
  type StreamName,
  streamDigest,
} from "../../src/store/event-log";
import { describeBackends } from "../support/db";
import { createSession, sealedFields } from "./fixtures";
import {
  allKeys,
  chainLog,
  clone,
  exportStream,
  newSigner,
  type PlainEvent,
  savedHeads,
  sealEvents,
} from "./stream-fixtures";

const SECRET_AMOUNT = 73914205;
const AT = 1_732_500_000_000;
const ALL = STREAM_NAMES;

// v1 all; v2 claimant+mediator; v3 claimant; v4 respondent; v5 respondent+mediator; v6 all.
// Every stream has four positions, over different versions.
function events(actor: string): PlainEvent[] {
  return [
    {
      type: "SessionCreated",
      at: AT,
      actor,
      payload: { title: "Acme v. Widget", currency: "USD" },
      streams: ALL,
    },
    {
      type: "BidSet",
      at: AT + 1000,
      actor,
      payload: { side: "claimant", amount: SECRET_AMOUNT },
      streams: ["claimant", "mediator"],
    },
    {
      type: "CaucusMessage",
      at: AT + 2000,
      actor,
      payload: { room: "claimant", text: "between us" },
      streams: ["claimant"],
    },
    {
      type: "CaucusMessage",
      at: AT + 3000,
      actor,
      payload: { room: "respondent", text: "their room" },
      streams: ["respondent"],
    },
    {
      type: "BidSet",
      at: AT + 4000,
      actor,
      payload: { side: "respondent", amount: 120 },
      streams: ["respondent", "mediator"],
    },
    { type: "Step2Opened", at: AT + 5000, actor, payload: {}, streams: ALL },
  ];
}

const VERSIONS: Record<StreamName, number[]> = {
  claimant: [1, 2, 3, 6],
  respondent: [1, 4, 5, 6],
  mediator: [1, 2, 5, 6],
};

describe("audit export v2", () => {
  const sessionId = randomUUID();
  const actor = randomUUID();
  const log = chainLog(sessionId, sealEvents(sessionId, events(actor), newDataKey()));
  const signer = newSigner();
  const build = (stream: StreamName) => clone(exportStream(log, stream, signer));

  for (const stream of STREAM_NAMES) {
    it(`builds and verifies the ${stream}'s stream`, () => {
      const file = build(stream);
      expect(file).toMatchObject({
        format: AUDIT_FORMAT,
        sessionId,
        stream,
        exportedAt: "2024-11-25T02:00:00.000Z",
        publicKey: { keyId: signer.keyId, pem: signer.publicKeyPem },
      });
      expect(file.events.map((e) => e.position)).toEqual([1, 2, 3, 4]);
      expect(file.events.map((e) => e.anchor)).toEqual(
        VERSIONS[stream].map((v) => log.events[v - 1]!.chainHash),
      );
      expect(file.head).toEqual(
        signer.sign({ sessionId, stream, position: 4, head: log.heads[stream].head }),
      );
      expect(file.damaged).toBeUndefined();

      const ok = { ok: true, events: 4, head: log.heads[stream].head, signed: true };
      expect(verifyAuditExport(file)).toEqual({ ...ok, savedHeadsChecked: 0 });
      expect(verifyAuditExport(file, { publicKeyPem: signer.publicKeyPem })).toEqual({
        ...ok,
        savedHeadsChecked: 0,
      });
      const saved = savedHeads(log, stream, signer, [1, 2, 3, 4]);
      expect(verifyAuditExport(file, { savedHeads: saved, publicKeyPem: signer.publicKeyPem })).toEqual({
        ...ok,
        savedHeadsChecked: 4,
      });
    });
  }

  it("has no entry for an event outside its stream and nothing that reveals the global version", () => {
    for (const stream of STREAM_NAMES) {
      const file = build(stream);
      // No placeholder: exactly the stream's length, numbered by position.
      expect(file.events).toHaveLength(log.heads[stream].position);
      expect(file.events.map((e) => e.content.position)).toEqual(file.events.map((e) => e.position));
      for (const e of file.events) expect(e.content.stream).toBe(stream);
      expect(file.head.position).toBe(file.events.length);
      // No `version` key anywhere in the file.
      expect(allKeys(file)).not.toContain("version");
      // Nothing of a hidden event: not its content, not its anchor, digest or ciphertext hash.
      const text = JSON.stringify(file);
      for (const [i, e] of log.events.entries()) {
        if (VERSIONS[stream].includes(i + 1)) continue;
        expect(text).not.toContain(e.chainHash);
        expect(text).not.toContain(e.digest);
        for (const s of e.streams) expect(text).not.toContain(s.digest);
      }
    }
    expect(JSON.stringify(build("respondent"))).not.toContain("between us");
    expect(JSON.stringify(build("claimant"))).not.toContain("their room");
    const mediator = JSON.stringify(build("mediator"));
    expect(mediator).not.toContain("between us");
    expect(mediator).not.toContain("their room");
  });

  it("shows only the public part of an event: no amount, no ciphertext", () => {
    const file = build("claimant");
    const bid = file.events[1]!;
    expect(bid.content).toEqual({
      sessionId,
      stream: "claimant",
      position: 2,
      type: "BidSet",
      at: AT + 1000,
      actor,
      payload: { side: "claimant" },
    });
    expect(bid.sealed).toMatch(/^[0-9a-f]{64}$/);
    // Even an event without a confidential field has a sealed part: its random salt.
    expect(file.events[0]!.sealed).toMatch(/^[0-9a-f]{64}$/);
    const text = JSON.stringify(file);
    expect(text).not.toContain(String(SECRET_AMOUNT));
    expect(text).not.toContain("$sealed");
    expect(text).not.toContain("$salt");
    expect(text).not.toContain((log.events[1]!.payload.amount as { $sealed: string }).$sealed);
  });

  it("verifies an empty stream against GENESIS", () => {
    const only = chainLog(
      sessionId,
      sealEvents(sessionId, [{ ...events(actor)[0]!, streams: ["claimant"] }], newDataKey()),
    );
    const file = clone(exportStream(only, "mediator", signer));
    expect(file.events).toEqual([]);
    expect(file.head).toMatchObject({ position: 0, head: GENESIS_HASH });
    expect(verifyAuditExport(file, { publicKeyPem: signer.publicKeyPem })).toEqual({
      ok: true,
      events: 0,
      head: GENESIS_HASH,
      signed: true,
      savedHeadsChecked: 0,
    });
  });

  it("refuses to export a confidential field that is not sealed, or another session's event", () => {
    const rows = log.rows("claimant");
    const leaky = rows.map((e) =>
      e.version === 2 ? { ...e, payload: { side: "claimant", amount: SECRET_AMOUNT } } : e,
    );
    const opts = {
      sessionId,
      stream: "claimant" as const,
      sealed: sealedFields,
      sign: signer.sign,
      publicKey: { keyId: signer.keyId, pem: signer.publicKeyPem },
    };
    expect(() => buildAuditExport({ ...opts, rows: leaky })).toThrow(/"amount" is not sealed/);
    expect(() => buildAuditExport({ ...opts, rows, sessionId: randomUUID() })).toThrow(/another session/);
  });

  it("ignores saved heads of another stream or session, and refuses one beyond the export", () => {
    const file = build("claimant");
    const others = [
      ...savedHeads(log, "respondent", signer, [1, 2]),
      signer.sign({ sessionId: randomUUID(), stream: "claimant", position: 1, head: GENESIS_HASH }),
    ];
    expect(verifyAuditExport(file, { savedHeads: others })).toMatchObject({ ok: true, savedHeadsChecked: 0 });

    const beyond = signer.sign({ sessionId, stream: "claimant", position: 5, head: GENESIS_HASH });
    const verdict = verifyAuditExport(file, { savedHeads: [beyond] });
    expect(verdict).toMatchObject({ ok: false, brokenAt: 5 });
    expect(verdict.ok === false && verdict.reason).toMatch(/beyond the end of this export/);
  });

  it("refuses an entry added after the signed head (no one without the key can extend an export)", () => {
    const file = build("claimant");
    const last = file.events.at(-1)!;
    const content = {
      sessionId,
      stream: "claimant" as const,
      position: 5,
      type: "CaucusMessage",
      at: AT + 9000,
      actor,
      payload: { room: "claimant", text: "we accept 1" },
    };
    const anchor = "ab".repeat(32);
    const digest = streamDigest(content, "cd".repeat(32), anchor);
    file.events.push({
      position: 5,
      content,
      sealed: "cd".repeat(32),
      anchor,
      digest,
      head: chainHash(last.head, digest),
    });
    // The signed head still says position 4: the fifth entry is nobody's word but the forger's.
    const verdict = verifyAuditExport(file, { publicKeyPem: signer.publicKeyPem });
    expect(verdict.ok).toBe(false);
    expect(verdict.ok === false && verdict.reason).toMatch(/^final head/);
  });

  describe("detects tampering with the file", () => {
    const cases: [string, (f: AuditExport) => void, number, RegExp][] = [
      [
        "edited public content",
        (f) => {
          f.events[2]!.content.payload.text = "between vs";
        },
        3,
        /content does not match the digest/,
      ],
      [
        "edited time",
        (f) => {
          f.events[0]!.content.at += 1;
        },
        1,
        /content does not match the digest/,
      ],
      [
        "swapped sealed hash",
        (f) => {
          f.events[1]!.sealed = f.events[3]!.sealed;
        },
        2,
        /content does not match the digest/,
      ],
      [
        "edited anchor",
        (f) => {
          f.events[1]!.anchor = f.events[2]!.anchor;
        },
        2,
        /content does not match the digest/,
      ],
      [
        "edited digest",
        (f) => {
          f.events[1]!.digest = f.events[1]!.digest.replace(/^./, (c) => (c === "a" ? "b" : "a"));
        },
        2,
        /content does not match the digest/,
      ],
      [
        "edited head",
        (f) => {
          f.events[1]!.head = f.events[1]!.head.replace(/^./, (c) => (c === "a" ? "b" : "a"));
        },
        2,
        /head does not follow/,
      ],
      ["removed entry", (f) => void f.events.splice(1, 1), 2, /expected position 2/],
      ["reordered entries", (f) => void f.events.reverse(), 1, /expected position 1/],
      [
        "renumbered content",
        (f) => {
          f.events[1]!.content.position = 3;
        },
        2,
        /content position does not match/,
      ],
      [
        "content from another session",
        (f) => {
          f.events[0]!.content.sessionId = randomUUID();
        },
        1,
        /another session/,
      ],
      [
        "content from another stream",
        (f) => {
          f.events[0]!.content.stream = "respondent";
        },
        1,
        /another stream/,
      ],
      [
        "a sealed field put into content",
        (f) => {
          f.events[1]!.content.payload.amount = { $sealed: "v1.x" };
        },
        2,
        /sealed field/,
      ],
      [
        "wrong final head",
        (f) => {
          f.head.head = GENESIS_HASH;
        },
        4,
        /final head: does not match the export/,
      ],
      ["truncated without a new head", (f) => void f.events.pop(), 3, /final head: is beyond the end/],
      [
        "non-hex head",
        (f) => {
          f.events[3]!.head = "zz";
        },
        4,
        /head is not a sha256 hex/,
      ],
    ];
    for (const [name, tamper, brokenAt, reason] of cases) {
      it(name, () => {
        const file = build("claimant");
        expect(verifyAuditExport(file).ok).toBe(true);
        tamper(file);
        const verdict = verifyAuditExport(file);
        expect(verdict).toMatchObject({ ok: false, brokenAt });
        expect(verdict.ok === false && verdict.reason).toMatch(reason);
      });
    }
  });

  it("throws AuditFormatError for something that is not an audit export", () => {
    const valid = build("claimant");
    const { head: _, ...headless } = valid;
    for (const bad of [
      null,
      [],
      "text",
      { ...valid, format: "backchannel-audit/1" },
      { ...valid, sessionId: 1 },
      { ...valid, stream: undefined },
      { ...valid, events: {} },
      headless,
    ]) {
      expect(() => verifyAuditExport(bad)).toThrow(AuditFormatError);
    }
  });
});

describeBackends("audit of the stored log", ({ db }) => {
  const signer = newSigner();

  async function storedSession() {
    const { sessionId, userId, dataKey } = await createSession(db());
    await db().tx((q) =>
      appendEvents(
        q,
        sessionId,
        0,
        GENESIS_HASH,
        events(userId),
        dataKey,
        sealedFields,
        initialStreamHeads(),
      ),
    );
    return sessionId;
  }

  async function exportOf(sessionId: string, stream: StreamName, q: Queryable = db()) {
    return clone(
      buildAuditExport({
        sessionId,
        stream,
        rows: await readStream(q, sessionId, stream),
        sealed: sealedFields,
        sign: signer.sign,
        publicKey: { keyId: signer.keyId, pem: signer.publicKeyPem },
      }),
    );
  }

  // Edits stored rows behind the application's back, as an attacker with database access could.
  async function tamper(sql: string, params: unknown[]) {
    await db().tx(async (q) => {
      await q.query("SET LOCAL session_replication_role = replica");
      const res = await q.query(sql, params);
      expect(res.rowCount).toBe(1);
    });
  }

  it("exports each stored stream, and its signed head is the stream head stored with the session", async () => {
    const sessionId = await storedSession();
    const heads = (await db().tx((q) => lockSession(q, sessionId)))!.streams!;
    for (const stream of STREAM_NAMES) {
      const file = await exportOf(sessionId, stream);
      expect(file.events).toHaveLength(4);
      expect(file.head).toMatchObject({ position: 4, head: heads[stream].head });
      expect(verifyAuditExport(file, { publicKeyPem: signer.publicKeyPem })).toEqual({
        ok: true,
        events: 4,
        head: heads[stream].head,
        signed: true,
        savedHeadsChecked: 0,
      });
    }
  });

  it("reports the position whose stored public content changed", async () => {
    const sessionId = await storedSession();
    // Version 5 is the respondent's position 3.
    await tamper(
      `UPDATE session_events SET payload = jsonb_set(payload, '{side}', to_jsonb('claimant'::text))
        WHERE session_id = $1 AND version = 5`,
      [sessionId],
    );
    const file = await exportOf(sessionId, "respondent");
    expect(file.damaged).toEqual([{ position: 3, problem: expect.stringMatching(/no longer matches/) }]);
    expect(verifyAuditExport(file)).toEqual({
      ok: false,
      brokenAt: 3,
      reason: "content does not match the digest",
    });
    // The mediator's stream holds the same event at position 3 as well; the claimant's does not.
    expect(verifyAuditExport(await exportOf(sessionId, "mediator"))).toMatchObject({
      ok: false,
      brokenAt: 3,
    });
    expect(verifyAuditExport(await exportOf(sessionId, "claimant"))).toMatchObject({ ok: true });
  });

  it("reports the position whose stored ciphertext changed", async () => {
    const sessionId = await storedSession();
    const [, before] = await readStream(db(), sessionId, "claimant");
    const sealed = (before!.payload.amount as { $sealed: string }).$sealed;
    const flipped = sealed.slice(0, -2) + (sealed.at(-2) === "A" ? "B" : "A") + sealed.at(-1);
    await tamper(
      `UPDATE session_events SET payload = jsonb_set(payload, '{amount}', jsonb_build_object('$sealed', $2::text))
        WHERE session_id = $1 AND version = 2`,
      [sessionId, flipped],
    );
    const file = await exportOf(sessionId, "claimant");
    expect(file.damaged).toEqual([{ position: 2, problem: expect.any(String) }]);
    expect(verifyAuditExport(file)).toEqual({
      ok: false,
      brokenAt: 2,
      reason: "content does not match the digest",
    });
  });

  it("reports the position whose anchor in the session chain changed", async () => {
    const sessionId = await storedSession();
    await tamper(
      `UPDATE session_events SET chain_hash = overlay(chain_hash placing (CASE WHEN left(chain_hash, 1) = 'a' THEN 'b' ELSE 'a' END) from 1 for 1)
        WHERE session_id = $1 AND version = 6`,
      [sessionId],
    );
    for (const stream of STREAM_NAMES) {
      const file = await exportOf(sessionId, stream);
      expect(file.damaged).toEqual([{ position: 4, problem: expect.any(String) }]);
      expect(verifyAuditExport(file)).toMatchObject({ ok: false, brokenAt: 4 });
    }
  });

  it("reports the position whose stored stream head changed", async () => {
    const sessionId = await storedSession();
    await tamper(
      `UPDATE session_stream_entries SET head = overlay(head placing (CASE WHEN left(head, 1) = 'a' THEN 'b' ELSE 'a' END) from 1 for 1)
        WHERE session_id = $1 AND stream = 'mediator' AND position = 2`,
      [sessionId],
    );
    expect(verifyAuditExport(await exportOf(sessionId, "mediator"))).toEqual({
      ok: false,
      brokenAt: 2,
      reason: "head does not follow from the previous head and this digest",
    });
  });
});
