// The per-session event log: append-only, hash-chained, with confidential fields sealed before
// anything touches SQL. Rows hold ciphertext only; the chain covers ciphertext, never a number.
import { hash } from "node:crypto";
import { canonicalJson } from "./canonical-json";
import { decryptValue, encryptValue, randomPooled } from "./crypto";
import type { Queryable } from "./db";
import { CteStatement } from "./sql";

export interface StoredEvent {
  sessionId: string;
  version: number;
  type: string;
  at: number;
  actor: string | null;
  /** Sealed form: each confidential field is `{ "$sealed": "<ciphertext>" }`. */
  payload: Record<string, unknown>;
  digest: string;
  chainHash: string;
}

/** An event to append, with its payload in plaintext. */
export interface NewEvent {
  type: string;
  at: number;
  actor: string | null;
  payload: Record<string, unknown>;
}

/** Which top-level payload fields of an event type are confidential (e.g. BidSet -> ["amount"]). */
export type SealedFields = (type: string) => readonly string[];

export const GENESIS_HASH = "0".repeat(64);

// ---------------------------------------------------------------- streams
// Besides the session's own chain (every event, for the operator), each role has a stream: the events it may see,
// numbered 1, 2, 3, ... with a hash chain of their own. A party receives only its stream's positions and heads, so
// nothing it holds counts or chains over what was hidden from it; each entry still names its event's place in the
// session's chain (`anchor`), so a rewrite of a hidden event changes the heads every party saved.

export const STREAM_NAMES = ["claimant", "respondent", "mediator"] as const;
export type StreamName = (typeof STREAM_NAMES)[number];

export interface StreamHead {
  position: number;
  head: string;
}
export type StreamHeads = Record<StreamName, StreamHead>;

export function initialStreamHeads(): StreamHeads {
  return {
    claimant: { position: 0, head: GENESIS_HASH },
    respondent: { position: 0, head: GENESIS_HASH },
    mediator: { position: 0, head: GENESIS_HASH },
  };
}

/** One event's place in one stream. */
export interface StreamEntry {
  stream: StreamName;
  position: number;
  digest: string;
  head: string;
}

/** What a stream's digest covers: the event's public part, named by its stream position (never the version). */
export interface StreamContent {
  sessionId: string;
  stream: StreamName;
  position: number;
  type: string;
  at: number;
  actor: string | null;
  payload: Record<string, unknown>;
}

export function streamContent(e: EventContent, stream: StreamName, position: number): StreamContent {
  return {
    sessionId: e.sessionId,
    stream,
    position,
    type: e.type,
    at: e.at,
    actor: e.actor,
    payload: splitSealedPayload(e.payload).publicPayload,
  };
}

/**
 * digest = sha256(sha256(content) "." sealed "." anchor): the public part as the stream shows it, a commitment to the
 * event's ciphertexts, and the session chain's hash after the event (so a rewrite of any event, hidden ones included,
 * changes every later head a party saved). A party gets only the commitment, never the ciphertexts' hash itself:
 * with that hash and the public part it could recompute the session chain's digest of each event it sees and test
 * whether two of its anchors follow each other directly, which would tell whether something hidden happened between.
 * Every event's ciphertexts include a random salt, so the commitment cannot be guessed either.
 */
export function streamDigest(content: StreamContent, sealed: string, anchor: string): string {
  return streamDigestOfJson(canonicalJson(content), sealed, anchor);
}

function streamDigestOfJson(contentJson: string, sealed: string, anchor: string): string {
  return sha256Hex(`${sha256Hex(contentJson)}.${sealed}.${anchor}`);
}

/** What a stream entry shows of an event's ciphertexts: sha256 of "backchannel-sealed/1:" + their hash. */
export function sealedCommitmentOf(payload: Record<string, unknown>): string {
  return commitmentOfSealedHash(sealedHashOf(splitSealedPayload(payload).ciphertexts));
}

function commitmentOfSealedHash(sealedHash: string): string {
  return sha256Hex(`backchannel-sealed/1:${sealedHash}`);
}

/** The hash of an event's ciphertexts ("" when it has none): part of its digest, and what its commitment covers. */
function sealedHashOf(ciphertexts: Record<string, string>): string {
  return Object.keys(ciphertexts).length === 0 ? "" : sha256Hex(canonicalJson(ciphertexts));
}

/**
 * canonicalJson(streamContent(e, stream, position)) for each of an event's streams, with the parts every stream
 * shares encoded once (the keys in canonical order; event-log.test.ts holds it to canonicalJson's output).
 */
function streamContentJson(e: EventContent, publicPayload: Record<string, unknown>) {
  const before = `{"actor":${canonicalJson(e.actor)},"at":${canonicalJson(e.at)},"payload":${canonicalJson(publicPayload)},"position":`;
  const after = `,"sessionId":${canonicalJson(e.sessionId)},"stream":`;
  const type = `,"type":${canonicalJson(e.type)}}`;
  return (stream: StreamName, position: number) =>
    `${before}${canonicalJson(position)}${after}${canonicalJson(stream)}${type}`;
}

/**
 * Numbers one stored event into the given streams, advancing `heads` in place. `sealedHash`: the event's, when the
 * caller has it already (from eventDigest).
 */
export function advanceStreams(
  heads: StreamHeads,
  stored: StoredEvent,
  streams: readonly StreamName[],
  sealedHash?: string,
): StreamEntry[] {
  const { publicPayload, ciphertexts } = splitSealedPayload(stored.payload);
  const sealed = commitmentOfSealedHash(sealedHash ?? sealedHashOf(ciphertexts));
  const content = streamContentJson(stored, publicPayload);
  return streams.map((stream) => {
    const position = heads[stream].position + 1;
    const digest = streamDigestOfJson(content(stream, position), sealed, stored.chainHash);
    const head = chainHash(heads[stream].head, digest);
    heads[stream] = { position, head };
    return { stream, position, digest, head };
  });
}

/** Parses sessions.streams; null when the session predates streams (see backfill in the service). */
export function parseStreamHeads(value: unknown): StreamHeads | null {
  if (typeof value !== "object" || value === null) return null;
  const v = value as Record<string, { position?: unknown; head?: unknown }>;
  const heads = initialStreamHeads();
  for (const name of STREAM_NAMES) {
    const h = v[name];
    if (!h || typeof h.position !== "number" || typeof h.head !== "string") return null;
    heads[name] = { position: h.position, head: h.head };
  }
  return heads;
}

/** Inserts stream entries for already-stored events (one statement). */
export async function insertStreamEntries(
  q: Queryable,
  sessionId: string,
  entries: ReadonlyArray<StreamEntry & { version: number }>,
): Promise<void> {
  if (entries.length === 0) return;
  const params: unknown[] = [];
  const tuples = entries.map((e) => {
    const b = params.length;
    params.push(sessionId, e.stream, e.position, e.version, e.digest, e.head);
    return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6})`;
  });
  await q.query(
    `INSERT INTO session_stream_entries (session_id, stream, position, version, digest, head) VALUES ${tuples.join(", ")}`,
    params,
  );
}

export class ConcurrencyError extends Error {
  override name = "ConcurrencyError";
  constructor(
    readonly sessionId: string,
    readonly expectedVersion: number,
  ) {
    super(`session ${sessionId} is no longer at version ${expectedVersion}`);
  }
}

export class SessionNotFoundError extends Error {
  override name = "SessionNotFoundError";
  constructor(readonly sessionId: string) {
    super(`session ${sessionId} not found`);
  }
}

interface SealedValue {
  $sealed: string;
}

export function isSealedValue(value: unknown): value is SealedValue {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.keys(value).length === 1 &&
    typeof (value as { $sealed?: unknown }).$sealed === "string"
  );
}

/** The AAD of a sealed field: a ciphertext opens only in the session, version and field it was sealed for. */
function sealedFieldAad(sessionId: string, version: number, field: string): string {
  return JSON.stringify([sessionId, version, field]);
}

export function sealPayload(
  ev: NewEvent & { sessionId: string; version: number },
  dataKey: Buffer,
  sealed: SealedFields,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...ev.payload };
  for (const field of sealed(ev.type)) {
    if (!Object.hasOwn(out, field) || out[field] === undefined) continue;
    out[field] = {
      $sealed: encryptValue(dataKey, out[field], sealedFieldAad(ev.sessionId, ev.version, field)),
    };
  }
  // Every event gets one sealed random value, so its digest can never be guessed by hashing candidate contents
  // (a proposal answer has two possible values; a hidden entry's digest must not reveal which).
  out[SALT_FIELD] = {
    $sealed: encryptValue(
      dataKey,
      randomPooled(16).toString("base64"),
      sealedFieldAad(ev.sessionId, ev.version, SALT_FIELD),
    ),
  };
  return out;
}

/** The sealed random value in every stored event's payload; never part of the event itself. */
const SALT_FIELD = "$salt";

/**
 * Opens the sealed fields of a stored event. With the key destroyed (dataKey null) they become
 * null: the number is gone for everyone, the rest of the event stays readable.
 */
export function unsealPayload(
  stored: StoredEvent,
  dataKey: Buffer | null,
  sealed: SealedFields,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...stored.payload };
  delete out[SALT_FIELD];
  for (const field of sealed(stored.type)) {
    if (!Object.hasOwn(out, field)) continue;
    const value = out[field];
    if (dataKey === null) out[field] = null;
    else if (isSealedValue(value)) {
      out[field] = decryptValue(
        dataKey,
        value.$sealed,
        sealedFieldAad(stored.sessionId, stored.version, field),
      );
    }
  }
  return out;
}

/** Splits a sealed-form payload into its public part and its ciphertexts (by the `$sealed` shape). */
function splitSealedPayload(payload: Record<string, unknown>): {
  publicPayload: Record<string, unknown>;
  ciphertexts: Record<string, string>;
} {
  const publicPayload: Record<string, unknown> = {};
  const ciphertexts: Record<string, string> = {};
  for (const [key, value] of Object.entries(payload)) {
    if (isSealedValue(value)) ciphertexts[key] = value.$sealed;
    else publicPayload[key] = value;
  }
  return { publicPayload, ciphertexts };
}

export function sha256Hex(text: string): string {
  // One-shot: no Hash object per call (a burst of deadlines hashes some fifteen times per event).
  return hash("sha256", text, "hex");
}

/** An event's identity and payload; in its public content the payload has no sealed field. */
export type EventContent = Omit<StoredEvent, "digest" | "chainHash">;

/** The public content of an event: what publicHash covers and what an audit export may show. */
function publicContent(e: EventContent): EventContent {
  return {
    sessionId: e.sessionId,
    version: e.version,
    type: e.type,
    at: e.at,
    actor: e.actor,
    payload: splitSealedPayload(e.payload).publicPayload,
  };
}

export function digestFromParts(publicHash: string, sealedHash: string): string {
  return sha256Hex(`${publicHash}.${sealedHash}`);
}

/**
 * digest = sha256(publicHash + "." + sealedHash). The public part and the ciphertexts are hashed
 * apart so a viewer allowed the public part can check it, and no hash ever covers a plaintext
 * number (a number has few enough candidates to be found by hashing guesses).
 */
export function eventDigest(e: {
  sessionId: string;
  version: number;
  type: string;
  at: number;
  actor: string | null;
  payload: Record<string, unknown>;
}): { digest: string; publicHash: string; sealedHash: string } {
  const publicHash = sha256Hex(canonicalJson(publicContent(e)));
  const sealedHash = sealedHashOf(splitSealedPayload(e.payload).ciphertexts);
  return { digest: digestFromParts(publicHash, sealedHash), publicHash, sealedHash };
}

export function chainHash(prevChainHash: string, digest: string): string {
  return sha256Hex(prevChainHash + digest);
}

/** Events ready to append to one session: sealed, hashed and numbered in memory, not yet written. */
export interface StagedAppend {
  sessionId: string;
  /** what the session row must still hold when written (else ConcurrencyError) */
  expectedVersion: number;
  prevChainHash: string;
  /** after the events */
  version: number;
  chainHash: string;
  heads: StreamHeads;
  stored: Array<StoredEvent & { streams: StreamEntry[] }>;
  /** the session row's other columns, written in the same UPDATE (absent: unchanged) */
  row?: { phase?: string; title?: string; destroyKey?: boolean };
}

/**
 * Seals, hashes and numbers events as versions expectedVersion+1.. after the given head, in memory (no I/O).
 * addAppends and executeAppends store them.
 */
export function stageAppend(
  sessionId: string,
  expectedVersion: number,
  prevChainHash: string,
  events: Array<NewEvent & { streams: readonly StreamName[] }>,
  dataKey: Buffer,
  sealed: SealedFields,
  headsBefore: StreamHeads,
): StagedAppend {
  if (!Number.isInteger(expectedVersion) || expectedVersion < 0) {
    throw new Error(`expectedVersion must be a non-negative integer`);
  }
  let prev = prevChainHash;
  const heads: StreamHeads = structuredClone(headsBefore);
  const stored = events.map((ev, i) => {
    if (!Number.isSafeInteger(ev.at)) throw new Error(`event ${ev.type}: at must be epoch milliseconds`);
    const version = expectedVersion + i + 1;
    // Round-trip through JSON so the payload we hash is exactly what jsonb stores and returns.
    const payload = JSON.parse(
      canonicalJson(sealPayload({ ...ev, sessionId, version }, dataKey, sealed)),
    ) as Record<string, unknown>;
    const { digest, sealedHash } = eventDigest({
      sessionId,
      version,
      type: ev.type,
      at: ev.at,
      actor: ev.actor,
      payload,
    });
    prev = chainHash(prev, digest);
    const event: StoredEvent = {
      sessionId,
      version,
      type: ev.type,
      at: ev.at,
      actor: ev.actor,
      payload,
      digest,
      chainHash: prev,
    };
    return { ...event, streams: advanceStreams(heads, event, ev.streams, sealedHash) };
  });
  return {
    sessionId,
    expectedVersion,
    prevChainHash,
    version: expectedVersion + events.length,
    chainHash: prev,
    heads,
    stored,
  };
}

/** Two appends to one session in one batch (a due tick, then the command) as one: the first's guard, the last's head. */
export function mergeAppends(first: StagedAppend, then: StagedAppend): StagedAppend {
  if (then.expectedVersion !== first.version || then.prevChainHash !== first.chainHash) {
    throw new Error(`append to ${first.sessionId} does not follow the one before it`);
  }
  return {
    ...first,
    version: then.version,
    chainHash: then.chainHash,
    heads: then.heads,
    stored: [...first.stored, ...then.stored],
    row: { ...first.row, ...then.row },
  };
}

/**
 * Adds the writes of staged appends to a statement: one guarded UPDATE of the session rows (version, chain hash,
 * stream heads, and phase/title/key destruction when given), the events and their stream entries. Run it with
 * executeAppends.
 */
export function addAppends(stmt: CteStatement, appends: readonly StagedAppend[]): void {
  const events = appends.flatMap((a) => a.stored);
  const entries = events.flatMap((e) =>
    e.streams.map((entry) => ({ ...entry, version: e.version, sessionId: e.sessionId })),
  );
  // The guarded UPDATE takes the row lock (the caller usually holds it already), so a racing appender finds the
  // version moved on; checking chain_hash too catches a caller holding a stale head. A stale stream head needs no
  // check of its own: its entries would reuse a stream position, which the entries' primary key refuses.
  // Its rows go in id order, the lock statement's order (repository.ts, lockBatch): where the caller holds no lock,
  // the UPDATE takes them, and two nodes' batches holding the same sessions then wait for each other in one order
  // instead of deadlocking (test/store/lock-order.test.ts).
  const byId = [...appends].sort((a, b) =>
    a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0,
  );
  stmt.with(
    "appended",
    `UPDATE sessions AS s
        SET version = v.version, chain_hash = v.chain, streams = v.streams,
            phase = coalesce(v.phase, s.phase), title = coalesce(v.title, s.title),
            wrapped_key = CASE WHEN v.destroy THEN NULL ELSE s.wrapped_key END,
            key_destroyed_at = CASE WHEN v.destroy THEN coalesce(s.key_destroyed_at, now()) ELSE s.key_destroyed_at END
       FROM (${stmt.rows(
         byId.map((a) => [
           a.sessionId,
           a.expectedVersion,
           a.version,
           a.chainHash,
           a.prevChainHash,
           JSON.stringify(a.heads),
           a.row?.phase ?? null,
           a.row?.title ?? null,
           a.row?.destroyKey === true,
         ]),
         ["uuid", "int", "int", "text", "text", "jsonb", "text", "text", "bool"],
       )}) AS v(id, expected, version, chain, prev_chain, streams, phase, title, destroy)
      WHERE s.id = v.id AND s.version = v.expected AND s.chain_hash = v.prev_chain
      RETURNING s.id`,
  );
  stmt.insert(
    "appended_events",
    "session_events",
    {
      session_id: "uuid",
      version: "int",
      type: "text",
      at: "bigint",
      actor: "uuid",
      payload: "jsonb",
      digest: "text",
      chain_hash: "text",
    },
    events.map((e) => [
      e.sessionId,
      e.version,
      e.type,
      e.at,
      e.actor,
      JSON.stringify(e.payload),
      e.digest,
      e.chainHash,
    ]),
  );
  stmt.insert(
    "appended_entries",
    "session_stream_entries",
    { session_id: "uuid", stream: "text", position: "int", version: "int", digest: "text", head: "text" },
    entries.map((e) => [e.sessionId, e.stream, e.position, e.version, e.digest, e.head]),
  );
}

/**
 * Runs a statement built with addAppends (and whatever else the caller added). The statement checks itself that every
 * session row was where its append expected it (session_append_guard, migration 5), and fails whole otherwise:
 * nothing of it is stored, so it needs no transaction around it to be all or nothing. Throws ConcurrencyError (or
 * SessionNotFoundError) then.
 */
export async function executeAppends(
  q: Queryable,
  stmt: CteStatement,
  appends: readonly StagedAppend[],
): Promise<void> {
  const expected = stmt.param(
    appends.map((a) => a.sessionId),
    "uuid[]",
  );
  try {
    await q.query(
      stmt.sql(`SELECT session_append_guard(${expected}, ARRAY(SELECT id FROM appended)) AS guard`),
      stmt.params,
    );
  } catch (err) {
    const { code, constraint, detail } = err as { code?: string; constraint?: string; detail?: string };
    const named = appends.find((a) => a.sessionId === detail) ?? appends[0];
    if (!named) throw err;
    if (code === "BC409") throw new ConcurrencyError(named.sessionId, named.expectedVersion);
    if (code === "BC404") throw new SessionNotFoundError(named.sessionId);
    // Rows at these versions already exist although sessions.version said otherwise (someone else's append won), or
    // a receipt for the same key: the statement is undone.
    if (code === "23505") throw new ConcurrencyError(named.sessionId, named.expectedVersion);
    if (code === "23503" && constraint === "session_events_session_id_fkey")
      throw new SessionNotFoundError(appends.length === 1 ? named.sessionId : "(one of the batch)");
    throw err;
  }
}

/**
 * Appends events as versions expectedVersion+1.. and advances sessions.version / chain_hash, in one statement.
 * One statement, all or nothing on its own. Throws ConcurrencyError when the session has moved on.
 */
export async function appendEvents(
  q: Queryable,
  sessionId: string,
  expectedVersion: number,
  prevChainHash: string,
  events: Array<NewEvent & { streams: readonly StreamName[] }>,
  dataKey: Buffer,
  sealed: SealedFields,
  headsBefore: StreamHeads,
): Promise<Array<StoredEvent & { streams: StreamEntry[] }>> {
  const staged = stageAppend(sessionId, expectedVersion, prevChainHash, events, dataKey, sealed, headsBefore);
  if (events.length === 0) return [];
  const stmt = new CteStatement();
  addAppends(stmt, [staged]);
  await executeAppends(q, stmt, [staged]);
  return staged.stored;
}

export interface LockedSession {
  version: number;
  chainHash: string;
  /** null for a session stored before streams existed (the service numbers it on first lock) */
  streams: StreamHeads | null;
  phase: string;
  wrappedKey: string | null;
  keyDestroyed: boolean;
}

/** Locks the session row until the end of the transaction (SELECT ... FOR UPDATE); null if absent. */
export async function lockSession(q: Queryable, sessionId: string): Promise<LockedSession | null> {
  const res = await q.query<{
    version: number;
    chain_hash: string;
    phase: string;
    wrapped_key: string | null;
    key_destroyed: boolean;
    streams: unknown;
  }>(
    `SELECT version, chain_hash, phase, wrapped_key, key_destroyed_at IS NOT NULL AS key_destroyed, streams
       FROM sessions WHERE id = $1 FOR UPDATE`,
    [sessionId],
  );
  const row = res.rows[0];
  if (!row) return null;
  return {
    version: row.version,
    chainHash: row.chain_hash,
    streams: parseStreamHeads(row.streams),
    phase: row.phase,
    wrappedKey: row.wrapped_key,
    keyDestroyed: row.key_destroyed,
  };
}

interface EventRow {
  session_id: string;
  version: number;
  type: string;
  at: number | string;
  actor: string | null;
  payload: Record<string, unknown>;
  digest: string;
  chain_hash: string;
}

/** Events after sinceVersion (default: all), in version order, payloads in sealed form. */
export async function readEvents(q: Queryable, sessionId: string, sinceVersion = 0): Promise<StoredEvent[]> {
  const res = await q.query<EventRow>(
    `SELECT session_id, version, type, at, actor, payload, digest, chain_hash
       FROM session_events WHERE session_id = $1 AND version > $2 ORDER BY version`,
    [sessionId, sinceVersion],
  );
  return res.rows.map(toStoredEvent);
}

/**
 * The events of many sessions after a version of each (0: the whole log), in session then version order, payloads in
 * sealed form: one query, one index range per session.
 */
export async function readEventsOf(
  q: Queryable,
  sessions: ReadonlyArray<{ sessionId: string; afterVersion: number }>,
): Promise<StoredEvent[]> {
  if (sessions.length === 0) return [];
  const res = await q.query<EventRow>(
    `SELECT e.session_id, e.version, e.type, e.at, e.actor, e.payload, e.digest, e.chain_hash
       FROM unnest($1::uuid[], $2::int[]) AS w(session_id, after_version)
       JOIN session_events e ON e.session_id = w.session_id AND e.version > w.after_version
      ORDER BY e.session_id, e.version`,
    [sessions.map((s) => s.sessionId), sessions.map((s) => s.afterVersion)],
  );
  return res.rows.map(toStoredEvent);
}

function toStoredEvent(r: EventRow): StoredEvent {
  return {
    sessionId: r.session_id,
    version: r.version,
    type: r.type,
    at: Number(r.at),
    actor: r.actor,
    payload: r.payload,
    digest: r.digest,
    chainHash: r.chain_hash,
  };
}

/** One stream's events after sincePosition, in order, each with its stream entry; payloads in sealed form. */
export async function readStream(
  q: Queryable,
  sessionId: string,
  stream: StreamName,
  sincePosition = 0,
  limit?: number,
): Promise<Array<StoredEvent & { entry: StreamEntry }>> {
  const res = await q.query<EventRow & { position: number; stream_digest: string; head: string }>(
    `SELECT e.session_id, e.version, e.type, e.at, e.actor, e.payload, e.digest, e.chain_hash,
            s.position, s.digest AS stream_digest, s.head
       FROM session_stream_entries s
       JOIN session_events e ON e.session_id = s.session_id AND e.version = s.version
      WHERE s.session_id = $1 AND s.stream = $2 AND s.position > $3
      ORDER BY s.position${limit === undefined ? "" : ` LIMIT ${Math.floor(limit)}`}`,
    [sessionId, stream, sincePosition],
  );
  return res.rows.map((r) => ({
    ...toStoredEvent(r),
    entry: { stream, position: r.position, digest: r.stream_digest, head: r.head },
  }));
}

/** Shreds a session's numbers: without the wrapped data key, no sealed field can be opened again. */
export async function destroySessionKey(q: Queryable, sessionId: string): Promise<void> {
  const res = await q.query(
    `UPDATE sessions SET wrapped_key = NULL, key_destroyed_at = coalesce(key_destroyed_at, now())
      WHERE id = $1`,
    [sessionId],
  );
  if (res.rowCount !== 1) throw new SessionNotFoundError(sessionId);
}
