import { randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import { unwrapKey } from "../../src/store/crypto";
import type { Queryable } from "../../src/store/db";
import {
  addAppends,
  appendEvents,
  ConcurrencyError,
  chainHash,
  destroySessionKey,
  eventDigest,
  executeAppends,
  GENESIS_HASH,
  initialStreamHeads,
  lockSession,
  type NewEvent,
  readEvents,
  readStream,
  SessionNotFoundError,
  STREAM_NAMES,
  type StoredEvent,
  type StreamEntry,
  type StreamHeads,
  type StreamName,
  sealedCommitmentOf,
  stageAppend,
  streamContent,
  streamDigest,
  unsealPayload,
} from "../../src/store/event-log";
import { CteStatement } from "../../src/store/sql";
import { describeBackends } from "../support/db";
import { createSession, MASTER_KEY, sealedFields } from "./fixtures";

const SECRET_AMOUNT = 73914205;
const AT = 1_732_500_000_000;
const ALL: readonly StreamName[] = STREAM_NAMES;

type Ev = NewEvent & { streams: readonly StreamName[] };

function history(actor: string): Ev[] {
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
      type: "BidSet",
      at: AT + 2000,
      actor,
      payload: { side: "respondent", amount: SECRET_AMOUNT },
      streams: ["respondent", "mediator"],
    },
  ];
}

/** Six events that reach the three streams unevenly; one reaches none (the operator's log only). */
function uneven(actor: string): Ev[] {
  const note = (n: number, streams: readonly StreamName[]): Ev => ({
    type: "Note",
    at: AT + n * 1000,
    actor,
    payload: { n },
    streams,
  });
  return [
    { ...note(1, ALL), type: "SessionCreated" },
    note(2, ["claimant"]),
    note(3, ["mediator"]),
    note(4, []),
    note(5, ["claimant", "respondent"]),
    { ...note(6, ["respondent", "mediator"]), type: "BidSet", payload: { side: "respondent", amount: 120 } },
  ];
}

function append(
  q: Queryable,
  sessionId: string,
  expectedVersion: number,
  prevChainHash: string,
  events: Ev[],
  dataKey: Buffer,
  headsBefore: StreamHeads = initialStreamHeads(),
) {
  return appendEvents(
    q,
    sessionId,
    expectedVersion,
    prevChainHash,
    events,
    dataKey,
    sealedFields,
    headsBefore,
  );
}

/** Checks every stream's entries: positions 1..n in order, digests of the stream content, heads chained from GENESIS. */
function expectStreamsChained(
  events: Array<StoredEvent & { streams: StreamEntry[] }>,
  from: StreamHeads = initialStreamHeads(),
): StreamHeads {
  const heads = structuredClone(from);
  for (const e of events) {
    for (const entry of e.streams) {
      const before = heads[entry.stream];
      expect(entry.position).toBe(before.position + 1);
      expect(entry.digest).toBe(
        streamDigest(
          streamContent(e, entry.stream, entry.position),
          sealedCommitmentOf(e.payload),
          e.chainHash,
        ),
      );
      expect(entry.head).toBe(chainHash(before.head, entry.digest));
      heads[entry.stream] = { position: entry.position, head: entry.head };
    }
  }
  return heads;
}

/** The stored form of appended events, as readEvents returns them. */
function withoutStreams(events: Array<StoredEvent & { streams: StreamEntry[] }>): StoredEvent[] {
  return events.map(({ streams: _, ...e }) => e);
}

async function storedEntries(q: Queryable, sessionId: string) {
  const res = await q.query<{
    stream: string;
    position: number;
    version: number;
    digest: string;
    head: string;
  }>(
    `SELECT stream, position, version, digest, head FROM session_stream_entries
      WHERE session_id = $1 ORDER BY stream, position`,
    [sessionId],
  );
  return res.rows;
}

it("gives each stream entry the digest streamContent and streamDigest define, for awkward events (no database)", () => {
  const dataKey = randomBytes(32);
  const from: StreamHeads = {
    claimant: { position: 41, head: "a".repeat(64) },
    respondent: { position: 0, head: GENESIS_HASH },
    mediator: { position: 9, head: "b".repeat(64) },
  };
  const awkward: Ev[] = [
    { type: "Note", at: AT, actor: null, payload: {}, streams: ALL },
    {
      type: 'Odd "type" \u00fc',
      at: 0,
      actor: 'actor "quoted" \u2028',
      payload: { 'a"b': [-0, 1e21, 1.5e-7, null], ü: { z: true, a: "\u0000" }, gone: undefined },
      streams: ["mediator", "claimant"],
    },
    {
      type: "BidSet",
      at: Number.MAX_SAFE_INTEGER,
      actor: "u",
      payload: { side: "claimant", amount: SECRET_AMOUNT },
      streams: ["claimant"],
    },
  ];
  const staged = stageAppend('s-"1"', 7, "c".repeat(64), awkward, dataKey, sealedFields, from);
  expect(staged.stored.flatMap((e) => e.streams)).toHaveLength(6);
  expect(expectStreamsChained(staged.stored, from)).toEqual(staged.heads);
});

describeBackends("event log", ({ db }) => {
  it("appends versions 1..n, chains them from GENESIS and reads them back identically", async () => {
    const { sessionId, userId, dataKey } = await createSession(db());
    const appended = await db().tx((q) => append(q, sessionId, 0, GENESIS_HASH, history(userId), dataKey));

    expect(appended.map((e) => e.version)).toEqual([1, 2, 3]);
    let prev = GENESIS_HASH;
    for (const e of appended) {
      expect(e.digest).toBe(eventDigest(e).digest);
      expect(e.chainHash).toBe(chainHash(prev, e.digest));
      prev = e.chainHash;
    }
    expect(await readEvents(db(), sessionId)).toEqual(withoutStreams(appended));
    expect(await readEvents(db(), sessionId, 2)).toEqual(withoutStreams(appended.slice(2)));

    const heads = expectStreamsChained(appended);
    const head = await db().tx((q) => lockSession(q, sessionId));
    expect(head).toEqual({
      version: 3,
      chainHash: prev,
      streams: heads,
      phase: "setup",
      wrappedKey: expect.any(String),
      keyDestroyed: false,
    });
  });

  it("numbers each stream 1..n without gaps whatever the other streams got, chained from GENESIS", async () => {
    const { sessionId, userId, dataKey } = await createSession(db());
    const appended = await db().tx((q) => append(q, sessionId, 0, GENESIS_HASH, uneven(userId), dataKey));

    // version -> [stream, position] for each stream the event went to
    expect(appended.map((e) => [e.version, e.streams.map((s) => [s.stream, s.position])])).toEqual([
      [
        1,
        [
          ["claimant", 1],
          ["respondent", 1],
          ["mediator", 1],
        ],
      ],
      [2, [["claimant", 2]]],
      [3, [["mediator", 2]]],
      [4, []],
      [
        5,
        [
          ["claimant", 3],
          ["respondent", 2],
        ],
      ],
      [
        6,
        [
          ["respondent", 3],
          ["mediator", 3],
        ],
      ],
    ]);
    const heads = expectStreamsChained(appended);
    expect(heads.claimant.position).toBe(3);
    expect(heads.respondent.position).toBe(3);
    expect(heads.mediator.position).toBe(3);
    for (const name of STREAM_NAMES) expect(heads[name].head).not.toBe(GENESIS_HASH);
    // Three streams of equal length over different events: three different chains.
    expect(new Set(STREAM_NAMES.map((n) => heads[n].head)).size).toBe(3);

    // What was written is what was returned, and nothing else.
    const rows = await storedEntries(db(), sessionId);
    expect(rows).toEqual(
      appended
        .flatMap((e) => e.streams.map((s) => ({ ...s, version: e.version })))
        .sort((a, b) => a.stream.localeCompare(b.stream) || a.position - b.position),
    );

    // sessions.streams holds every stream's head after the append.
    expect((await db().tx((q) => lockSession(q, sessionId)))?.streams).toEqual(heads);
    const raw = await db().query<{ streams: unknown }>("SELECT streams FROM sessions WHERE id = $1", [
      sessionId,
    ]);
    expect(raw.rows[0]?.streams).toEqual(heads);
  });

  it("names an event in a stream by its position, never by the session's version", async () => {
    const { sessionId, userId, dataKey } = await createSession(db());
    const appended = await db().tx((q) => append(q, sessionId, 0, GENESIS_HASH, uneven(userId), dataKey));
    const sixth = appended[5]!;
    const content = streamContent(sixth, "mediator", 3);
    expect(content).toEqual({
      sessionId,
      stream: "mediator",
      position: 3,
      type: "BidSet",
      at: AT + 6000,
      actor: userId,
      payload: { side: "respondent" },
    });
    expect(Object.keys(content)).not.toContain("version");
    // The same event at another position (or in another stream) has another digest.
    const entry = sixth.streams.find((s) => s.stream === "mediator")!;
    expect(
      streamDigest(streamContent(sixth, "mediator", 4), sealedCommitmentOf(sixth.payload), sixth.chainHash),
    ).not.toBe(entry.digest);
    expect(
      streamDigest(streamContent(sixth, "respondent", 3), sealedCommitmentOf(sixth.payload), sixth.chainHash),
    ).not.toBe(entry.digest);
  });

  it("continues the chain and every stream across appends, from the heads stored with the session", async () => {
    const { sessionId, userId, dataKey } = await createSession(db());
    const events = uneven(userId);
    const a = await db().tx((q) => append(q, sessionId, 0, GENESIS_HASH, events.slice(0, 3), dataKey));
    const b = await db().tx(async (q) => {
      const head = await lockSession(q, sessionId);
      expect(head?.version).toBe(3);
      return append(q, sessionId, head!.version, head!.chainHash, events.slice(3), dataKey, head!.streams!);
    });
    expect(b.map((e) => e.version)).toEqual([4, 5, 6]);
    expect(b[0]!.chainHash).toBe(chainHash(a[2]!.chainHash, b[0]!.digest));
    expect(b[1]!.streams).toMatchObject([
      { stream: "claimant", position: 3 },
      { stream: "respondent", position: 2 },
    ]);
    const heads = expectStreamsChained([...a, ...b]);
    expect((await db().tx((q) => lockSession(q, sessionId)))?.streams).toEqual(heads);

    // Appending nothing changes nothing.
    expect(await db().tx((q) => append(q, sessionId, 6, b[2]!.chainHash, [], dataKey, heads))).toEqual([]);
    expect((await db().tx((q) => lockSession(q, sessionId)))?.streams).toEqual(heads);
  });

  it("readStream returns exactly one stream's events in position order, each with its entry", async () => {
    const { sessionId, userId, dataKey } = await createSession(db());
    const appended = await db().tx((q) => append(q, sessionId, 0, GENESIS_HASH, uneven(userId), dataKey));
    // A second session's events must not show up in this one's streams.
    const other = await createSession(db());
    await db().tx((q) => append(q, other.sessionId, 0, GENESIS_HASH, uneven(other.userId), other.dataKey));

    const expected = (stream: StreamName) =>
      appended.flatMap(({ streams, ...e }) => {
        const entry = streams.find((s) => s.stream === stream);
        return entry ? [{ ...e, entry }] : [];
      });
    for (const stream of STREAM_NAMES) {
      const rows = await readStream(db(), sessionId, stream);
      expect(rows).toEqual(expected(stream));
      expect(rows.map((r) => r.entry.position)).toEqual([1, 2, 3]);
    }
    expect((await readStream(db(), sessionId, "claimant")).map((r) => r.version)).toEqual([1, 2, 5]);
    expect((await readStream(db(), sessionId, "respondent")).map((r) => r.version)).toEqual([1, 5, 6]);
    expect((await readStream(db(), sessionId, "mediator")).map((r) => r.version)).toEqual([1, 3, 6]);

    // After a position, and at most `limit` of them.
    expect(await readStream(db(), sessionId, "mediator", 1)).toEqual(expected("mediator").slice(1));
    expect(await readStream(db(), sessionId, "mediator", 1, 1)).toEqual(expected("mediator").slice(1, 2));
    expect(await readStream(db(), sessionId, "mediator", 3)).toEqual([]);
    expect(await readStream(db(), crypto.randomUUID(), "mediator")).toEqual([]);
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
      append(
        q,
        sessionId,
        0,
        GENESIS_HASH,
        [{ type: "Note", at: AT, actor: userId, payload, streams: ALL }],
        dataKey,
      ),
    );
    const [stored] = await readEvents(db(), sessionId);
    expect(stored).toEqual(withoutStreams([appended!])[0]);
    expect(eventDigest(stored!).digest).toBe(stored!.digest);
    expect(stored!.chainHash).toBe(chainHash(GENESIS_HASH, stored!.digest));
    // The stream digests, recomputed from what was read back, match what was written.
    const [row] = await readStream(db(), sessionId, "respondent");
    expect(row!.entry.digest).toBe(
      streamDigest(
        streamContent(stored!, "respondent", 1),
        sealedCommitmentOf(stored!.payload),
        stored!.chainHash,
      ),
    );
  });

  it("refuses a stale expected version or a stale chain head, leaving nothing behind", async () => {
    const { sessionId, userId, dataKey } = await createSession(db());
    const [first, second] = history(userId);
    const a = await db().tx((q) => append(q, sessionId, 0, GENESIS_HASH, [first!], dataKey));
    const heads = expectStreamsChained(a);
    const entriesBefore = await storedEntries(db(), sessionId);
    expect(entriesBefore).toHaveLength(3);

    await expect(
      db().tx((q) => append(q, sessionId, 0, GENESIS_HASH, [second!], dataKey)),
    ).rejects.toBeInstanceOf(ConcurrencyError);
    // The right version with the right stream heads, but a stale chain head.
    await expect(
      db().tx((q) => append(q, sessionId, 1, GENESIS_HASH, [second!], dataKey, heads)),
    ).rejects.toBeInstanceOf(ConcurrencyError);
    await expect(
      db().tx((q) => append(q, crypto.randomUUID(), 0, GENESIS_HASH, [second!], dataKey)),
    ).rejects.toBeInstanceOf(SessionNotFoundError);

    expect(await readEvents(db(), sessionId)).toEqual(withoutStreams(a));
    expect(await storedEntries(db(), sessionId)).toEqual(entriesBefore);
    const head = await db().tx((q) => lockSession(q, sessionId));
    expect(head?.version).toBe(1);
    expect(head?.streams).toEqual(heads);
  });

  it("stores nothing of a statement one of whose appends is stale, with no transaction around it", async () => {
    const one = await createSession(db());
    const two = await createSession(db());
    const [first, second] = history(one.userId);
    const a = await append(db(), one.sessionId, 0, GENESIS_HASH, [first!], one.dataKey);
    const heads = expectStreamsChained(a);
    // Two sessions in one statement, outside any transaction: the first append is current, the second right in
    // version and stream heads but with a stale chain head (so no row of it collides with a stored one). The guard in
    // the statement fails it whole: without it, the first session's event and the second's would stay stored.
    const fresh = stageAppend(
      two.sessionId,
      0,
      GENESIS_HASH,
      [first!],
      two.dataKey,
      sealedFields,
      initialStreamHeads(),
    );
    const stale = stageAppend(one.sessionId, 1, GENESIS_HASH, [second!], one.dataKey, sealedFields, heads);
    const stmt = new CteStatement();
    addAppends(stmt, [fresh, stale]);
    await expect(executeAppends(db(), stmt, [fresh, stale])).rejects.toMatchObject({
      name: "ConcurrencyError",
      sessionId: one.sessionId,
    });
    expect(await readEvents(db(), two.sessionId)).toEqual([]);
    expect(await readEvents(db(), one.sessionId)).toEqual(withoutStreams(a));
    expect(await storedEntries(db(), two.sessionId)).toEqual([]);
    const row = await db().query<{ version: number }>("SELECT version FROM sessions WHERE id = $1", [
      two.sessionId,
    ]);
    expect(row.rows[0]?.version).toBe(0);
    // And a session that does not exist, named as such.
    const ghost = stageAppend(
      crypto.randomUUID(),
      0,
      GENESIS_HASH,
      [first!],
      one.dataKey,
      sealedFields,
      initialStreamHeads(),
    );
    const ghostStmt = new CteStatement();
    addAppends(ghostStmt, [ghost]);
    await expect(executeAppends(db(), ghostStmt, [ghost])).rejects.toBeInstanceOf(SessionNotFoundError);
  });

  it("lets exactly one of two concurrent appenders at the same version win", async () => {
    const { sessionId, userId, dataKey } = await createSession(db());
    const [, claimantBid, respondentBid] = history(userId);
    const results = await Promise.allSettled(
      [claimantBid!, respondentBid!].map((ev) =>
        db().tx((q) => append(q, sessionId, 0, GENESIS_HASH, [ev], dataKey)),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(ConcurrencyError);
    expect(await readEvents(db(), sessionId)).toHaveLength(1);
    // Only the winner's stream entries were written.
    const won = results.find((r) => r.status === "fulfilled") as PromiseFulfilledResult<
      Array<StoredEvent & { streams: StreamEntry[] }>
    >;
    expect(await storedEntries(db(), sessionId)).toEqual(
      won.value[0]!.streams.map((s) => ({ ...s, version: 1 })).sort((x, y) =>
        x.stream.localeCompare(y.stream),
      ),
    );
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
      const out = await append(
        q,
        sessionId,
        head!.version,
        head!.chainHash,
        [claimantBid!],
        dataKey,
        head!.streams ?? initialStreamHeads(),
      );
      order.push("A appended");
      return out;
    });
    await aHasLock;
    // B read the head before A committed (a stale view), then tries to act on it under the lock.
    const b = db().tx(async (q) => {
      const head = await lockSession(q, sessionId);
      order.push(`B locked v${head?.version}`);
      return append(q, sessionId, 0, GENESIS_HASH, [respondentBid!], dataKey);
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
      append(q, sessionId, 0, GENESIS_HASH, history(userId).slice(0, 2), dataKey),
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
    const appended = await db().tx((q) => append(q, sessionId, 0, GENESIS_HASH, history(userId), dataKey));
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
    const [, v2, v3] = await db().tx((q) => append(q, sessionId, 0, GENESIS_HASH, history(userId), dataKey));
    const forged: StoredEvent = { ...v3!, payload: { ...v3!.payload, amount: v2!.payload.amount } };
    expect(() => unsealPayload(forged, dataKey, sealedFields)).toThrow(/cannot decrypt value/);
  });

  it("shreds the numbers when the session key is destroyed", async () => {
    const { sessionId, userId, dataKey } = await createSession(db());
    await db().tx((q) => append(q, sessionId, 0, GENESIS_HASH, history(userId), dataKey));
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
