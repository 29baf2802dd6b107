// The per-session event log: append-only, hash-chained, with confidential fields sealed before
// anything touches SQL. Rows hold ciphertext only; the chain covers ciphertext, never a number.
import { createHash, randomBytes } from "node:crypto";
import { canonicalJson } from "./canonical-json";
import { decryptValue, encryptValue } from "./crypto";
import type { Queryable } from "./db";

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
export function sealedFieldAad(sessionId: string, version: number, field: string): string {
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
      randomBytes(16).toString("base64"),
      sealedFieldAad(ev.sessionId, ev.version, SALT_FIELD),
    ),
  };
  return out;
}

/** The sealed random value in every stored event's payload; never part of the event itself. */
export const SALT_FIELD = "$salt";

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
export function splitSealedPayload(payload: Record<string, unknown>): {
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
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** An event's identity and payload; in its public content the payload has no sealed field. */
export type EventContent = Omit<StoredEvent, "digest" | "chainHash">;

/** The public content of an event: what publicHash covers and what an audit export may show. */
export function publicContent(e: EventContent): EventContent {
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
  const { ciphertexts } = splitSealedPayload(e.payload);
  const sealedHash = Object.keys(ciphertexts).length === 0 ? "" : sha256Hex(canonicalJson(ciphertexts));
  return { digest: digestFromParts(publicHash, sealedHash), publicHash, sealedHash };
}

export function chainHash(prevChainHash: string, digest: string): string {
  return sha256Hex(prevChainHash + digest);
}

/**
 * Appends events as versions expectedVersion+1.. and advances sessions.version / chain_hash.
 * Call inside a transaction (Db.tx). Throws ConcurrencyError when the session has moved on.
 */
export async function appendEvents(
  q: Queryable,
  sessionId: string,
  expectedVersion: number,
  prevChainHash: string,
  events: NewEvent[],
  dataKey: Buffer,
  sealed: SealedFields,
): Promise<StoredEvent[]> {
  if (!Number.isInteger(expectedVersion) || expectedVersion < 0) {
    throw new Error(`expectedVersion must be a non-negative integer`);
  }
  if (events.length === 0) return [];

  let prev = prevChainHash;
  const stored = events.map((ev, i): StoredEvent => {
    if (!Number.isSafeInteger(ev.at)) throw new Error(`event ${ev.type}: at must be epoch milliseconds`);
    const version = expectedVersion + i + 1;
    // Round-trip through JSON so the payload we hash is exactly what jsonb stores and returns.
    const payload = JSON.parse(
      canonicalJson(sealPayload({ ...ev, sessionId, version }, dataKey, sealed)),
    ) as Record<string, unknown>;
    const { digest } = eventDigest({
      sessionId,
      version,
      type: ev.type,
      at: ev.at,
      actor: ev.actor,
      payload,
    });
    prev = chainHash(prev, digest);
    return {
      sessionId,
      version,
      type: ev.type,
      at: ev.at,
      actor: ev.actor,
      payload,
      digest,
      chainHash: prev,
    };
  });

  // The guarded UPDATE takes the row lock first, so a racing appender waits here and then finds
  // the version moved on. Checking chain_hash too catches a caller holding a stale head.
  const head = await q.query(
    `UPDATE sessions SET version = $3, chain_hash = $4
      WHERE id = $1 AND version = $2 AND chain_hash = $5`,
    [sessionId, expectedVersion, expectedVersion + events.length, prev, prevChainHash],
  );
  if (head.rowCount !== 1) {
    const exists = await q.query("SELECT 1 FROM sessions WHERE id = $1", [sessionId]);
    if (exists.rows.length === 0) throw new SessionNotFoundError(sessionId);
    throw new ConcurrencyError(sessionId, expectedVersion);
  }

  const params: unknown[] = [];
  const tuples = stored.map((e) => {
    const base = params.length;
    params.push(
      e.sessionId,
      e.version,
      e.type,
      e.at,
      e.actor,
      JSON.stringify(e.payload),
      e.digest,
      e.chainHash,
    );
    return `($${base + 1}, $${base + 2}, $${base + 3}, $${base + 4}, $${base + 5}, $${base + 6}::jsonb, $${base + 7}, $${base + 8})`;
  });
  try {
    await q.query(
      `INSERT INTO session_events (session_id, version, type, at, actor, payload, digest, chain_hash)
       VALUES ${tuples.join(", ")}`,
      params,
    );
  } catch (err) {
    // Rows at these versions already exist although sessions.version said otherwise: someone
    // else's append won. The caller's transaction is aborted either way.
    if ((err as { code?: string }).code === "23505") throw new ConcurrencyError(sessionId, expectedVersion);
    throw err;
  }
  return stored;
}

export interface LockedSession {
  version: number;
  chainHash: string;
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
  }>(
    `SELECT version, chain_hash, phase, wrapped_key, key_destroyed_at IS NOT NULL AS key_destroyed
       FROM sessions WHERE id = $1 FOR UPDATE`,
    [sessionId],
  );
  const row = res.rows[0];
  if (!row) return null;
  return {
    version: row.version,
    chainHash: row.chain_hash,
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
  return res.rows.map((r) => ({
    sessionId: r.session_id,
    version: r.version,
    type: r.type,
    at: Number(r.at),
    actor: r.actor,
    payload: r.payload,
    digest: r.digest,
    chainHash: r.chain_hash,
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
