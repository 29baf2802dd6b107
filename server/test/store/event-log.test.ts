import { expect, it } from "vitest";
import { unwrapKey } from "../../src/store/crypto";
import {
  appendEvents,
  ConcurrencyError,
  chainHash,
  destroySessionKey,
  eventDigest,
  GENESIS_HASH,
  lockSession,
  type NewEvent,
  readEvents,
  SessionNotFoundError,
  type StoredEvent,
  unsealPayload,
} from "../../src/store/event-log";
import { describeBackends } from "../support/db";
import { createSession, MASTER_KEY, sealedFields } from "./fixtures";

const SECRET_AMOUNT = 73914205;
const AT = 1_732_500_000_000;

function history(actor: string): NewEvent[] {
  return [
    { type: "SessionCreated", at: AT, actor, payload: { title: "Acme v. Widget", currency: "USD" } },
    { type: "BidSet", at: AT + 1000, actor, payload: { side: "claimant", amount: SECRET_AMOUNT } },
    { type: "BidSet", at: AT + 2000, actor, payload: { side: "respondent", amount: SECRET_AMOUNT } },
  ];
}

describeBackends("event log", ({ db }) => {
  it("appends versions 1..n, chains them from GENESIS and reads them back identically", async () => {
    const { sessionId, userId, dataKey } = await createSession(db());
    const appended = await db().tx((q) =>
      appendEvents(q, sessionId, 0, GENESIS_HASH, history(userId), dataKey, sealedFields),
    );

    expect(appended.map((e) => e.version)).toEqual([1, 2, 3]);
    let prev = GENESIS_HASH;
    for (const e of appended) {
      expect(e.digest).toBe(eventDigest(e).digest);
      expect(e.chainHash).toBe(chainHash(prev, e.digest));
      prev = e.chainHash;
    }
    expect(await readEvents(db(), sessionId)).toEqual(appended);
    expect(await readEvents(db(), sessionId, 2)).toEqual(appended.slice(2));

    const head = await db().tx((q) => lockSession(q, sessionId));
    expect(head).toEqual({
      version: 3,
      chainHash: prev,
      phase: "setup",
      wrappedKey: expect.any(String),
      keyDestroyed: false,
    });
  });

  it("continues the chain across appends", async () => {
    const { sessionId, userId, dataKey } = await createSession(db());
    const [first, second] = history(userId);
    const a = await db().tx((q) =>
      appendEvents(q, sessionId, 0, GENESIS_HASH, [first!], dataKey, sealedFields),
    );
    const b = await db().tx((q) =>
      appendEvents(q, sessionId, 1, a[0]!.chainHash, [second!], dataKey, sealedFields),
    );
    expect(b[0]!.version).toBe(2);
    expect(b[0]!.chainHash).toBe(chainHash(a[0]!.chainHash, b[0]!.digest));
    expect(
      await db().tx((q) => appendEvents(q, sessionId, 2, b[0]!.chainHash, [], dataKey, sealedFields)),
    ).toEqual([]);
  });

  it("keeps digests stable through jsonb for awkward payload values", async () => {
    const { sessionId, userId, dataKey } = await createSession(db());
    const payload = {
      zeta: { b: [1.5, -0, 1e-7, 2 ** 52, 'ü \u2028 "q"'], a: {} },
      alpha: [],
      gone: undefined,
      nil: null,
      when: new Date(AT),
    };
    const [appended] = await db().tx((q) =>
      appendEvents(
        q,
        sessionId,
        0,
        GENESIS_HASH,
        [{ type: "Note", at: AT, actor: userId, payload }],
        dataKey,
        sealedFields,
      ),
    );
    const [stored] = await readEvents(db(), sessionId);
    expect(stored).toEqual(appended);
    expect(eventDigest(stored!).digest).toBe(stored!.digest);
    expect(stored!.chainHash).toBe(chainHash(GENESIS_HASH, stored!.digest));
  });

  it("refuses a stale expected version or a stale chain head, leaving nothing behind", async () => {
    const { sessionId, userId, dataKey } = await createSession(db());
    const [first, second] = history(userId);
    const a = await db().tx((q) =>
      appendEvents(q, sessionId, 0, GENESIS_HASH, [first!], dataKey, sealedFields),
    );

    await expect(
      db().tx((q) => appendEvents(q, sessionId, 0, GENESIS_HASH, [second!], dataKey, sealedFields)),
    ).rejects.toBeInstanceOf(ConcurrencyError);
    await expect(
      db().tx((q) => appendEvents(q, sessionId, 1, GENESIS_HASH, [second!], dataKey, sealedFields)),
    ).rejects.toBeInstanceOf(ConcurrencyError);
    await expect(
      db().tx((q) => appendEvents(q, crypto.randomUUID(), 0, GENESIS_HASH, [second!], dataKey, sealedFields)),
    ).rejects.toBeInstanceOf(SessionNotFoundError);

    expect(await readEvents(db(), sessionId)).toEqual(a);
    expect((await db().tx((q) => lockSession(q, sessionId)))?.version).toBe(1);
  });

  it("lets exactly one of two concurrent appenders at the same version win", async () => {
    const { sessionId, userId, dataKey } = await createSession(db());
    const [, claimantBid, respondentBid] = history(userId);
    const results = await Promise.allSettled(
      [claimantBid!, respondentBid!].map((ev) =>
        db().tx((q) => appendEvents(q, sessionId, 0, GENESIS_HASH, [ev], dataKey, sealedFields)),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(ConcurrencyError);
    expect(await readEvents(db(), sessionId)).toHaveLength(1);
  });

  it("serialises commands on the session row lock: the second waits, then sees the new version", async () => {
    const { sessionId, userId, dataKey } = await createSession(db());
    const [, claimantBid, respondentBid] = history(userId);
    const order: string[] = [];
    let releaseA!: () => void;
    const aMayCommit = new Promise<void>((resolve) => {
      releaseA = resolve;
    });
    let aLocked!: () => void;
    const aHasLock = new Promise<void>((resolve) => {
      aLocked = resolve;
    });

    const a = db().tx(async (q) => {
      const head = await lockSession(q, sessionId);
      order.push(`A locked v${head?.version}`);
      aLocked();
      await aMayCommit;
      const out = await appendEvents(
        q,
        sessionId,
        head!.version,
        head!.chainHash,
        [claimantBid!],
        dataKey,
        sealedFields,
      );
      order.push("A appended");
      return out;
    });
    await aHasLock;
    // B read the head before A committed (a stale view), then tries to act on it under the lock.
    const b = db().tx(async (q) => {
      const head = await lockSession(q, sessionId);
      order.push(`B locked v${head?.version}`);
      return appendEvents(q, sessionId, 0, GENESIS_HASH, [respondentBid!], dataKey, sealedFields);
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(order).toEqual(["A locked v0"]);
    releaseA();

    await expect(a).resolves.toHaveLength(1);
    await expect(b).rejects.toBeInstanceOf(ConcurrencyError);
    expect(order).toEqual(["A locked v0", "A appended", "B locked v1"]);
    expect((await readEvents(db(), sessionId)).map((e) => e.payload.side)).toEqual(["claimant"]);
  });

  it("seals confidential fields and unseals them with the session's data key", async () => {
    const { sessionId, userId, dataKey } = await createSession(db());
    const [created, bid] = await db().tx((q) =>
      appendEvents(q, sessionId, 0, GENESIS_HASH, history(userId).slice(0, 2), dataKey, sealedFields),
    );
    const sealedValue = { $sealed: expect.stringMatching(/^v1\./) };
    expect(bid!.payload).toEqual({ side: "claimant", amount: sealedValue, $salt: sealedValue });
    // Every event carries a sealed random salt, so no digest can be recomputed by guessing contents.
    expect(created!.payload).toEqual({ title: "Acme v. Widget", currency: "USD", $salt: sealedValue });

    const [stored] = await readEvents(db(), sessionId, 1);
    const head = await db().tx((q) => lockSession(q, sessionId));
    const key = unwrapKey(MASTER_KEY, head!.wrappedKey!);
    expect(unsealPayload(stored!, key, sealedFields)).toEqual({ side: "claimant", amount: SECRET_AMOUNT });
    expect(unsealPayload(created!, key, sealedFields)).toEqual({ title: "Acme v. Widget", currency: "USD" });
  });

  it("never stores or hashes a plaintext amount", async () => {
    const { sessionId, userId, dataKey } = await createSession(db());
    const appended = await db().tx((q) =>
      appendEvents(q, sessionId, 0, GENESIS_HASH, history(userId), dataKey, sealedFields),
    );
    // Every row of every table, as PostgreSQL's own text rendering.
    const tables = await db().query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
    );
    let dump = "";
    for (const { tablename } of tables.rows) {
      const rows = await db().query<{ t: string }>(`SELECT t::text AS t FROM "${tablename}" t`);
      dump += rows.rows.map((r) => r.t).join("\n");
    }
    expect(dump).toContain(sessionId);
    expect(dump).toContain("$sealed");
    expect(dump).not.toContain(String(SECRET_AMOUNT));
    expect(JSON.stringify(appended)).not.toContain(String(SECRET_AMOUNT));

    // The same amount twice gives two different ciphertexts, so equal numbers do not show as equal.
    const [, claimant, respondent] = appended;
    expect(claimant!.payload.amount).not.toEqual(respondent!.payload.amount);

    // No digest covers the plaintext: the public hash of a bid is the same whatever its amount.
    const { publicHash } = eventDigest(claimant!);
    const withoutAmount = { ...claimant!, payload: { side: "claimant" } };
    expect(eventDigest(withoutAmount).publicHash).toBe(publicHash);
  });

  it("refuses a ciphertext moved to another event", async () => {
    const { sessionId, userId, dataKey } = await createSession(db());
    const [, v2, v3] = await db().tx((q) =>
      appendEvents(q, sessionId, 0, GENESIS_HASH, history(userId), dataKey, sealedFields),
    );
    const forged: StoredEvent = { ...v3!, payload: { ...v3!.payload, amount: v2!.payload.amount } };
    expect(() => unsealPayload(forged, dataKey, sealedFields)).toThrow(/cannot decrypt value/);
  });

  it("shreds the numbers when the session key is destroyed", async () => {
    const { sessionId, userId, dataKey } = await createSession(db());
    await db().tx((q) => appendEvents(q, sessionId, 0, GENESIS_HASH, history(userId), dataKey, sealedFields));
    await db().tx((q) => destroySessionKey(q, sessionId));

    const head = await db().tx((q) => lockSession(q, sessionId));
    expect(head).toMatchObject({ wrappedKey: null, keyDestroyed: true, version: 3 });
    const raw = await db().query<{ wrapped_key: unknown; key_destroyed_at: unknown }>(
      "SELECT wrapped_key, key_destroyed_at FROM sessions WHERE id = $1",
      [sessionId],
    );
    expect(raw.rows).toEqual([{ wrapped_key: null, key_destroyed_at: expect.any(Date) }]);

    const events = await readEvents(db(), sessionId);
    expect(events.map((e) => unsealPayload(e, null, sealedFields))).toEqual([
      { title: "Acme v. Widget", currency: "USD" },
      { side: "claimant", amount: null },
      { side: "respondent", amount: null },
    ]);
    await expect(db().tx((q) => destroySessionKey(q, crypto.randomUUID()))).rejects.toBeInstanceOf(
      SessionNotFoundError,
    );
  });

  it("returns null when locking a session that does not exist", async () => {
    expect(await db().tx((q) => lockSession(q, crypto.randomUUID()))).toBeNull();
  });
});
