// Rows the store tests need: a user and a session with its own wrapped data key.
import { randomUUID } from "node:crypto";
import { newDataKey, wrapKey } from "../../src/store/crypto";
import type { Queryable } from "../../src/store/db";
import {
  chainHash,
  eventDigest,
  GENESIS_HASH,
  type SealedFields,
  type StoredEvent,
  sealPayload,
} from "../../src/store/event-log";

export const sealedFields: SealedFields = (type) => (type === "BidSet" ? ["amount"] : []);

export const MASTER_KEY = Buffer.alloc(32, 7);

export async function createUser(q: Queryable, name = "Claire Claimant"): Promise<string> {
  const id = randomUUID();
  await q.query("INSERT INTO users (id, email, display_name, password_hash) VALUES ($1, $2, $3, $4)", [
    id,
    `${id}@example.test`,
    name,
    "argon2id$not-a-real-hash",
  ]);
  return id;
}

export async function createSession(
  q: Queryable,
): Promise<{ sessionId: string; userId: string; dataKey: Buffer }> {
  const userId = await createUser(q);
  const sessionId = randomUUID();
  const dataKey = newDataKey();
  await q.query(
    "INSERT INTO sessions (id, title, created_by, chain_hash, phase, wrapped_key) VALUES ($1, $2, $3, $4, $5, $6)",
    [sessionId, "Acme v. Widget", userId, GENESIS_HASH, "setup", wrapKey(MASTER_KEY, dataKey)],
  );
  return { sessionId, userId, dataKey };
}

/** Stored events built in memory the way appendEvents builds them, for tests that need no database. */
export function storedChain(
  sessionId: string,
  events: { type: string; at: number; actor: string | null; payload: Record<string, unknown> }[],
  dataKey: Buffer,
): StoredEvent[] {
  let prev = GENESIS_HASH;
  return events.map((ev, i) => {
    const version = i + 1;
    const payload = sealPayload({ ...ev, sessionId, version }, dataKey, sealedFields);
    const { digest } = eventDigest({ ...ev, sessionId, version, payload });
    prev = chainHash(prev, digest);
    return { ...ev, sessionId, version, payload, digest, chainHash: prev };
  });
}
