// Issue 6, point 12: what a party can prove about the log, and what the database itself refuses.
// The attacker here has the database, and in (a) and (b) even the server's signing key: a rewrite they make is
// consistent with itself and freshly signed, so only the heads a party saved earlier can expose it.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { buildAuditExport, verifyAuditExport } from "../../src/store/audit";
import { newDataKey } from "../../src/store/crypto";
import {
  appendEvents,
  GENESIS_HASH,
  initialStreamHeads,
  readEvents,
  readStream,
  STREAM_NAMES,
  type StreamName,
  unsealPayload,
} from "../../src/store/event-log";
import { describeBackends } from "../support/db";
import { createSession, sealedFields } from "./fixtures";
import {
  chainLog,
  clone,
  exportStream,
  newSigner,
  type PlainEvent,
  rechain,
  savedHeads,
  sealEvents,
} from "./stream-fixtures";

const AT = 1_732_500_000_000;

function note(n: number, streams: readonly StreamName[], text = `note ${n}`): PlainEvent {
  return { type: "Note", at: AT + n * 1000, actor: null, payload: { text }, streams };
}

describe("issue 6 point 12: saved heads and the published key", () => {
  const signer = newSigner();

  it("a rewrite with every hash recomputed passes alone but fails against saved heads", () => {
    const sessionId = randomUUID();
    const log = chainLog(
      sessionId,
      sealEvents(
        sessionId,
        [1, 2, 3, 4, 5].map((n) => note(n, ["claimant"])),
        newDataKey(),
      ),
    );
    const original = clone(exportStream(log, "claimant", signer));
    // The claimant's client kept the signed heads it was pushed at positions 2 and 4.
    const saved = savedHeads(log, "claimant", signer, [2, 4]);
    expect(verifyAuditExport(original, { savedHeads: saved })).toMatchObject({
      ok: true,
      savedHeadsChecked: 2,
    });

    // Edit position 3 and recompute every digest and head after it; re-sign the final head with the same key.
    const edited = clone(original);
    edited.events[2]!.content.payload.text = "we never said that";
    const forged = rechain(edited, signer);
    expect(forged.events[1]!.head).toBe(original.events[1]!.head);
    expect(forged.events[2]!.head).not.toBe(original.events[2]!.head);
    expect(forged.head.head).not.toBe(original.head.head);

    // Alone, even against the real key, the rewrite is indistinguishable from an honest export.
    expect(verifyAuditExport(forged)).toMatchObject({ ok: true, events: 5, signed: true });
    expect(verifyAuditExport(forged, { publicKeyPem: signer.publicKeyPem })).toMatchObject({ ok: true });
    // The head saved at position 4 (after the edit) exposes it, and names its position.
    const verdict = verifyAuditExport(forged, { savedHeads: saved, publicKeyPem: signer.publicKeyPem });
    expect(verdict).toEqual({
      ok: false,
      brokenAt: 4,
      reason: "saved head at position 4: does not match the export: the log was changed after it was signed",
    });
    // A head saved before the edit cannot see it: the protection is exactly the heads saved after it.
    expect(verifyAuditExport(forged, { savedHeads: [saved[0]] })).toMatchObject({
      ok: true,
      savedHeadsChecked: 1,
    });
  });

  it("an edit to an event the viewer cannot see breaks the viewer's saved heads", () => {
    const sessionId = randomUUID();
    const plain = [
      note(1, ["claimant", "respondent"]),
      note(2, ["claimant"], "claimant's room only"),
      note(3, ["claimant", "respondent"]),
      note(4, ["respondent"]),
    ];
    const sealed = sealEvents(sessionId, plain, newDataKey());
    const log = chainLog(sessionId, sealed);
    // The respondent (stream B) saved its heads at positions 1, 2 and 3; version 2 is not in its stream.
    expect(log.rows("respondent").map((r) => r.version)).toEqual([1, 3, 4]);
    const saved = savedHeads(log, "respondent", signer, [1, 2, 3]);
    const before = clone(exportStream(log, "respondent", signer));

    // Rewrite the hidden event (keeping its ciphertexts) and recompute the session chain and both streams.
    const rewritten = sealed.map((e, i) =>
      i === 1 ? { ...e, payload: { ...e.payload, text: "rewritten" } } : e,
    );
    const forgedLog = chainLog(sessionId, rewritten);
    const after = clone(exportStream(forgedLog, "respondent", signer));

    // Nothing the respondent can read changed: same positions, same contents, same ciphertext hashes.
    expect(after.events.map((e) => [e.position, e.content, e.sealed])).toEqual(
      before.events.map((e) => [e.position, e.content, e.sealed]),
    );
    // But the anchors after the hidden event did, and with them the respondent's heads.
    expect(after.events[0]!.head).toBe(before.events[0]!.head);
    expect(after.events[1]!.anchor).not.toBe(before.events[1]!.anchor);
    expect(after.events[1]!.head).not.toBe(before.events[1]!.head);

    // Both streams' new exports verify alone (signed with the real key)...
    expect(verifyAuditExport(after, { publicKeyPem: signer.publicKeyPem })).toMatchObject({
      ok: true,
      events: 3,
    });
    const claimantAfter = clone(exportStream(forgedLog, "claimant", signer));
    expect(verifyAuditExport(claimantAfter, { publicKeyPem: signer.publicKeyPem })).toMatchObject({
      ok: true,
    });
    expect(claimantAfter.events[1]!.content.payload.text).toBe("rewritten");
    // ...but not against what the respondent saved before: it fails at its position 2, the first after the edit.
    const verdict = verifyAuditExport(after, { savedHeads: saved, publicKeyPem: signer.publicKeyPem });
    expect(verdict).toMatchObject({ ok: false, brokenAt: 2 });
    expect(verdict.ok === false && verdict.reason).toMatch(
      /^saved head at position 2: does not match the export/,
    );
  });

  it("the signature is checked against the published key", () => {
    const sessionId = randomUUID();
    const log = chainLog(
      sessionId,
      sealEvents(
        sessionId,
        [1, 2, 3].map((n) => note(n, ["mediator"])),
        newDataKey(),
      ),
    );
    const real = clone(exportStream(log, "mediator", signer));
    expect(verifyAuditExport(real, { publicKeyPem: signer.publicKeyPem })).toMatchObject({
      ok: true,
      signed: true,
    });

    // Rewritten and re-signed with another Ed25519 key, which the file now names as its own.
    const other = newSigner();
    const edited = clone(real);
    edited.events[0]!.content.payload.text = "rewritten";
    const forged = rechain(edited, other);
    expect(forged.publicKey.pem).toBe(other.publicKeyPem);
    expect(verifyAuditExport(forged)).toMatchObject({ ok: true });
    expect(verifyAuditExport(forged, { publicKeyPem: signer.publicKeyPem })).toEqual({
      ok: false,
      brokenAt: 3,
      reason: "final head: signature does not verify with the key",
    });
    // Even unchanged, an export signed by another key is not the server's.
    expect(verifyAuditExport(rechain(real, other), { publicKeyPem: signer.publicKeyPem }).ok).toBe(false);
    // Heads saved from the real server do not verify under the forger's key either.
    const saved = savedHeads(log, "mediator", signer, [1]);
    expect(verifyAuditExport(rechain(real, other), { savedHeads: saved })).toMatchObject({
      ok: false,
      brokenAt: 1,
      reason: expect.stringMatching(/signature does not verify/),
    });

    // A tampered signature fails, with the file's own key as with the published one.
    const tampered = clone(real);
    const sig = tampered.head.signature;
    tampered.head.signature = (sig[0] === "A" ? "B" : "A") + sig.slice(1);
    for (const opts of [{}, { publicKeyPem: signer.publicKeyPem }]) {
      expect(verifyAuditExport(tampered, opts)).toEqual({
        ok: false,
        brokenAt: 3,
        reason: "final head: signature does not verify with the key",
      });
    }
    // So does a signature moved onto another position's head.
    const moved = clone(real);
    moved.head = {
      ...signer.sign({ ...real.head, position: 2, head: real.events[1]!.head }),
      position: 3,
      head: real.head.head,
    };
    expect(verifyAuditExport(moved, { publicKeyPem: signer.publicKeyPem }).ok).toBe(false);
  });
});

describeBackends("issue 6 point 12: the database", ({ db }) => {
  const signer = newSigner();

  async function storedSession(plain: PlainEvent[]) {
    const { sessionId, dataKey } = await createSession(db());
    await db().tx((q) =>
      appendEvents(q, sessionId, 0, GENESIS_HASH, plain, dataKey, sealedFields, initialStreamHeads()),
    );
    return { sessionId, dataKey };
  }

  async function count(table: string): Promise<number> {
    const res = await db().query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    return res.rows[0]!.n;
  }

  it("TRUNCATE is refused on session_events and session_stream_entries", async () => {
    await storedSession([note(1, STREAM_NAMES), note(2, ["claimant"])]);
    expect(await count("session_events")).toBe(2);
    expect(await count("session_stream_entries")).toBe(4);

    await expect(db().query("TRUNCATE session_stream_entries")).rejects.toThrow(/append-only/);
    // session_events is referenced by session_stream_entries, so only a TRUNCATE of both gets as far as triggers.
    await expect(db().query("TRUNCATE session_events, session_stream_entries")).rejects.toThrow(
      /append-only/,
    );
    await expect(db().query("TRUNCATE session_events CASCADE")).rejects.toThrow(/append-only/);
    // session_events refuses on its own trigger: with the stream table's switched off, it still refuses.
    await expect(
      db().tx(async (q) => {
        await q.query(
          "ALTER TABLE session_stream_entries DISABLE TRIGGER session_stream_entries_no_truncate",
        );
        await q.query("TRUNCATE session_events CASCADE");
      }),
    ).rejects.toThrow(/append-only/);

    expect(await count("session_events")).toBe(2);
    expect(await count("session_stream_entries")).toBe(4);
  });

  it("UPDATE and DELETE are refused on session_stream_entries", async () => {
    const { sessionId } = await storedSession([note(1, STREAM_NAMES), note(2, ["claimant"])]);
    const before = await db().query("SELECT * FROM session_stream_entries ORDER BY stream, position");

    await expect(
      db().query("UPDATE session_stream_entries SET head = $2 WHERE session_id = $1", [
        sessionId,
        GENESIS_HASH,
      ]),
    ).rejects.toThrow(/append-only/);
    await expect(
      db().query("UPDATE session_stream_entries SET position = position + 1 WHERE stream = 'claimant'"),
    ).rejects.toThrow(/append-only/);
    await expect(
      db().query("DELETE FROM session_stream_entries WHERE session_id = $1 AND position = 2", [sessionId]),
    ).rejects.toThrow(/append-only/);
    await expect(db().query("DELETE FROM session_stream_entries")).rejects.toThrow(/append-only/);

    expect((await db().query("SELECT * FROM session_stream_entries ORDER BY stream, position")).rows).toEqual(
      before.rows,
    );
  });

  it("a damaged row gives a verifiable export that reports it", async () => {
    // Version 3 is the claimant's position 2: a report by position must not be a report by version.
    const bid = (n: number, side: string, amount: number, streams: readonly StreamName[]): PlainEvent => ({
      type: "BidSet",
      at: AT + n * 1000,
      actor: null,
      payload: { side, amount },
      streams,
    });
    const { sessionId, dataKey } = await storedSession([
      note(1, STREAM_NAMES),
      bid(2, "respondent", 4500, ["respondent"]),
      bid(3, "claimant", 7200, ["claimant"]),
      note(4, STREAM_NAMES),
    ]);
    const stored = await readEvents(db(), sessionId);
    const donor = stored[1]!.payload.amount as { $sealed: string };

    // Swap version 3's sealed amount for version 2's, behind the triggers' back.
    await db().tx(async (q) => {
      await q.query("SET LOCAL session_replication_role = replica");
      const res = await q.query(
        `UPDATE session_events SET payload = jsonb_set(payload, '{amount}', $2::jsonb)
          WHERE session_id = $1 AND version = 3`,
        [sessionId, JSON.stringify(donor)],
      );
      expect(res.rowCount).toBe(1);
    });
    const rows = await readStream(db(), sessionId, "claimant");
    expect(rows.map((r) => [r.entry.position, r.version])).toEqual([
      [1, 1],
      [2, 3],
      [3, 4],
    ]);
    expect(rows[1]!.payload.amount).toEqual(donor);
    // The row really is damaged: the moved ciphertext no longer opens.
    expect(() => unsealPayload(rows[1]!, dataKey, sealedFields)).toThrow(/cannot decrypt/);

    // The export is built without decrypting, so it does not throw; it reports the row by position.
    let file: ReturnType<typeof buildAuditExport> | undefined;
    expect(() => {
      file = buildAuditExport({
        sessionId,
        stream: "claimant",
        rows,
        sealed: sealedFields,
        sign: signer.sign,
        publicKey: { keyId: signer.keyId, pem: signer.publicKeyPem },
      });
    }).not.toThrow();
    const exported = clone(file!);
    expect(exported.events).toHaveLength(3);
    expect(exported.damaged).toEqual([{ position: 2, problem: expect.any(String) }]);
    expect(verifyAuditExport(exported, { publicKeyPem: signer.publicKeyPem })).toEqual({
      ok: false,
      brokenAt: 2,
      reason: "content does not match the digest",
    });
    // The other streams did not hold that event and are intact.
    for (const stream of ["respondent", "mediator"] as const) {
      const other = buildAuditExport({
        sessionId,
        stream,
        rows: await readStream(db(), sessionId, stream),
        sealed: sealedFields,
        sign: signer.sign,
        publicKey: { keyId: signer.keyId, pem: signer.publicKeyPem },
      });
      expect(other.damaged).toBeUndefined();
      expect(verifyAuditExport(clone(other)).ok).toBe(true);
    }
  });
});
