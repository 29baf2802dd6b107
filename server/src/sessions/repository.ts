// The sessions' SQL: the session row, its members, deadlines and receipts, and the decrypted reading of its log.
// No rule lives here: the command pipeline (commands.ts) decides what to write, the read side (reads.ts) what to show.
import {
  eventStreams,
  evolve,
  type Phase,
  type Role,
  type SessionEvent,
  type SessionState,
  type Side,
  sealedFields,
} from "@backchannel/common";
import { isUuid } from "../payload";
import { newDataKey, unwrapKey, wrapKey } from "../store/crypto";
import type { Db, Queryable } from "../store/db";
import {
  advanceStreams,
  GENESIS_HASH,
  initialStreamHeads,
  insertStreamEntries,
  type LockedSession,
  lockSession,
  parseStreamHeads,
  readEvents,
  readStream,
  type StoredEvent,
  type StreamEntry,
  type StreamHeads,
  unsealPayload,
} from "../store/event-log";

/** A session as a command finds it under its row lock. */
export interface Loaded {
  state: SessionState;
  chainHash: string;
  heads: StreamHeads;
  /** null once the key was destroyed (no deal) */
  dataKey: Buffer | null;
}

export interface Receipt {
  position: number | null;
  commandHash: string | null;
}

export class SessionRepository {
  constructor(
    readonly db: Db,
    private readonly masterKey: Buffer,
  ) {}

  /** Inserts a new session row with a fresh data key; returns the key (the first events are sealed with it). */
  async insertSession(q: Queryable, sessionId: string, title: string, createdBy: string): Promise<Buffer> {
    const dataKey = newDataKey();
    await q.query(
      "INSERT INTO sessions (id, title, created_by, version, chain_hash, phase, wrapped_key, streams) VALUES ($1,$2,$3,0,$4,'setup',$5,$6::jsonb)",
      [
        sessionId,
        title,
        createdBy,
        GENESIS_HASH,
        wrapKey(this.masterKey, dataKey),
        JSON.stringify(initialStreamHeads()),
      ],
    );
    return dataKey;
  }

  /** Locks the session row (until the transaction ends); null for an unknown id. */
  async lock(q: Queryable, sessionId: string): Promise<(LockedSession & { dataKey: Buffer | null }) | null> {
    if (!isUuid(sessionId)) return null;
    const meta = await lockSession(q, sessionId);
    if (!meta) return null;
    return { ...meta, dataKey: meta.wrappedKey ? unwrapKey(this.masterKey, meta.wrappedKey) : null };
  }

  /**
   * Locks many session rows at once, in id order (so two batches never wait on each other in a cycle), until the
   * transaction ends: the clock's batches (tickMany). Unknown ids are left out of the map.
   */
  async lockMany(
    q: Queryable,
    sessionIds: readonly string[],
  ): Promise<Map<string, LockedSession & { dataKey: Buffer | null }>> {
    const ids = sessionIds.filter(isUuid);
    const locked = new Map<string, LockedSession & { dataKey: Buffer | null }>();
    if (ids.length === 0) return locked;
    const r = await q.query<{
      id: string;
      version: number;
      chain_hash: string;
      phase: string;
      wrapped_key: string | null;
      key_destroyed: boolean;
      streams: unknown;
    }>(
      `SELECT id, version, chain_hash, phase, wrapped_key, key_destroyed_at IS NOT NULL AS key_destroyed, streams
         FROM sessions WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
      [ids],
    );
    for (const row of r.rows) {
      locked.set(row.id, {
        version: row.version,
        chainHash: row.chain_hash,
        streams: parseStreamHeads(row.streams),
        phase: row.phase,
        wrappedKey: row.wrapped_key,
        keyDestroyed: row.key_destroyed,
        dataKey: row.wrapped_key ? unwrapKey(this.masterKey, row.wrapped_key) : null,
      });
    }
    return locked;
  }

  /** The session's version and stream heads (null heads: stored before streams existed). */
  async head(sessionId: string): Promise<{ version: number; heads: StreamHeads | null } | null> {
    if (!isUuid(sessionId)) return null;
    const r = await this.db.query<{ version: number; streams: unknown }>(
      "SELECT version, streams FROM sessions WHERE id=$1",
      [sessionId],
    );
    const row = r.rows[0];
    return row ? { version: row.version, heads: parseStreamHeads(row.streams) } : null;
  }

  async currentDataKey(sessionId: string): Promise<Buffer | null> {
    const meta = await this.db.query<{ wrapped_key: string | null }>(
      "SELECT wrapped_key FROM sessions WHERE id=$1",
      [sessionId],
    );
    const wrapped = meta.rows[0]?.wrapped_key ?? null;
    return wrapped ? unwrapKey(this.masterKey, wrapped) : null;
  }

  /** Rebuilds a session's state from its whole log (null when it has none), under the caller's row lock. */
  async replay(q: Queryable, sessionId: string, dataKey: Buffer | null): Promise<SessionState | null> {
    return fold(await readEvents(q, sessionId, 0), dataKey);
  }

  /**
   * The same without the lock (never to be cached). The key is read after the events, so a shredding that commits
   * in between leaves the amounts null rather than opened.
   */
  async replayUnlocked(sessionId: string): Promise<SessionState | null> {
    const stored = await readEvents(this.db, sessionId, 0);
    if (stored.length === 0) return null;
    return fold(stored, await this.currentDataKey(sessionId));
  }

  /** A session stored before streams existed: numbers its whole log into the three streams (under its lock). */
  async numberStreams(q: Queryable, sessionId: string, dataKey: Buffer | null): Promise<StreamHeads> {
    const heads = initialStreamHeads();
    const entries: Array<StreamEntry & { version: number }> = [];
    let state: SessionState | null = null;
    for (const s of await readEvents(q, sessionId, 0)) {
      const event = toEvent(s, dataKey);
      state = evolve(state, event);
      for (const entry of advanceStreams(heads, s, eventStreams(event, state)))
        entries.push({ ...entry, version: s.version });
    }
    await insertStreamEntries(q, sessionId, entries);
    await q.query("UPDATE sessions SET streams=$2::jsonb WHERE id=$1", [sessionId, JSON.stringify(heads)]);
    return heads;
  }

  async addMember(q: Queryable, sessionId: string, userId: string, role: Role, canBid: boolean) {
    await q.query(
      "INSERT INTO session_members (session_id, user_id, role, can_bid) VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING",
      [sessionId, userId, role, canBid],
    );
  }

  /** Rewrites the session's open deadlines, phase and title after a command. */
  async saveSummary(
    q: Queryable,
    sessionId: string,
    state: SessionState,
    deadlines: ReadonlyArray<{ key: string; kind: string; at: number }>,
  ) {
    await q.query("DELETE FROM deadlines WHERE session_id=$1", [sessionId]);
    for (const d of deadlines) {
      await q.query("INSERT INTO deadlines (session_id, key, kind, due_at) VALUES ($1,$2,$3,$4)", [
        sessionId,
        d.key,
        d.kind,
        d.at,
      ]);
    }
    await q.query("UPDATE sessions SET phase=$2, title=$3 WHERE id=$1", [
      sessionId,
      state.phase,
      state.title,
    ]);
  }

  /** saveSummary for many sessions in three statements (the clock's batches). */
  async saveSummaries(
    q: Queryable,
    summaries: ReadonlyArray<{
      sessionId: string;
      state: SessionState;
      deadlines: ReadonlyArray<{ key: string; kind: string; at: number }>;
    }>,
  ) {
    if (summaries.length === 0) return;
    const ids = summaries.map((x) => x.sessionId);
    await q.query("DELETE FROM deadlines WHERE session_id = ANY($1::uuid[])", [ids]);
    const rows = summaries.flatMap((x) => x.deadlines.map((d) => ({ sessionId: x.sessionId, ...d })));
    if (rows.length > 0) {
      await q.query(
        `INSERT INTO deadlines (session_id, key, kind, due_at)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[])`,
        [
          rows.map((d) => d.sessionId),
          rows.map((d) => d.key),
          rows.map((d) => d.kind),
          rows.map((d) => d.at),
        ],
      );
    }
    await q.query(
      `UPDATE sessions AS s SET phase = v.phase, title = v.title
         FROM unnest($1::uuid[], $2::text[], $3::text[]) AS v(id, phase, title) WHERE s.id = v.id`,
      [ids, summaries.map((x) => x.state.phase), summaries.map((x) => x.state.title)],
    );
  }

  async receipt(q: Queryable, sessionId: string, userId: string, key: string): Promise<Receipt | null> {
    const r = await q.query<{ position: number | null; command_hash: string | null }>(
      "SELECT position, command_hash FROM command_receipts WHERE session_id=$1 AND user_id=$2 AND idempotency_key=$3",
      [sessionId, userId, key],
    );
    const row = r.rows[0];
    return row ? { position: row.position, commandHash: row.command_hash } : null;
  }

  async saveReceipt(
    q: Queryable,
    sessionId: string,
    userId: string,
    key: string,
    r: { version: number; commandHash: string | null; position: number | null },
  ) {
    await q.query(
      "INSERT INTO command_receipts (session_id, user_id, idempotency_key, version, command_hash, position) VALUES ($1,$2,$3,$4,$5,$6)",
      [sessionId, userId, key, r.version, r.commandHash, r.position],
    );
  }

  /**
   * Each session's next deadline (all sessions, or those whose next one is due by `dueBefore`), earliest first: one
   * query for the single trigger every session with an open deadline has.
   */
  async nextDeadlines(dueBefore?: number): Promise<Array<{ sessionId: string; dueAt: number }>> {
    const r = await this.db.query<{ session_id: string; due_at: string | number }>(
      dueBefore === undefined
        ? "SELECT session_id, MIN(due_at) AS due_at FROM deadlines GROUP BY session_id ORDER BY 2"
        : "SELECT session_id, MIN(due_at) AS due_at FROM deadlines GROUP BY session_id HAVING MIN(due_at) <= $1 ORDER BY 2",
      dueBefore === undefined ? [] : [dueBefore],
    );
    return r.rows.map((x) => ({ sessionId: x.session_id, dueAt: Number(x.due_at) }));
  }

  /** Stored deadlines (all, or those due by `dueBefore`), earliest first. */
  async deadlines(dueBefore?: number): Promise<Array<{ sessionId: string; key: string; dueAt: number }>> {
    const r = await this.db.query<{ session_id: string; key: string; due_at: string | number }>(
      dueBefore === undefined
        ? "SELECT session_id, key, due_at FROM deadlines ORDER BY due_at"
        : "SELECT session_id, key, due_at FROM deadlines WHERE due_at <= $1 ORDER BY due_at",
      dueBefore === undefined ? [] : [dueBefore],
    );
    return r.rows.map((x) => ({ sessionId: x.session_id, key: x.key, dueAt: Number(x.due_at) }));
  }

  async roleOf(sessionId: string, userId: string): Promise<Role | null> {
    if (!isUuid(sessionId)) return null;
    const r = await this.db.query<{ role: Role }>(
      "SELECT role FROM session_members WHERE session_id=$1 AND user_id=$2",
      [sessionId, userId],
    );
    return r.rows[0]?.role ?? null;
  }

  async listForUser(userId: string) {
    // A member's version of a session is its role's stream position, never the session's global version.
    const r = await this.db.query<{
      id: string;
      title: string;
      phase: Phase;
      role: Role;
      version: number | null;
      can_bid: boolean;
    }>(
      `SELECT s.id, s.title, s.phase, m.role, (s.streams -> m.role ->> 'position')::int AS version, m.can_bid
         FROM session_members m
         JOIN sessions s ON s.id = m.session_id WHERE m.user_id=$1 ORDER BY s.created_at DESC`,
      [userId],
    );
    return r.rows.map((x) => ({
      id: x.id,
      title: x.title,
      phase: x.phase,
      role: x.role,
      canBid: x.can_bid,
      version: x.version ?? 0,
    }));
  }

  /** One role's stream after `sincePosition`, decrypted with the session's current key (shredded amounts: null). */
  async streamEvents(sessionId: string, role: Role, sincePosition: number, limit?: number) {
    const dataKey = await this.currentDataKey(sessionId);
    const stored = await readStream(this.db, sessionId, role, sincePosition, limit);
    return stored.map((s) => ({ entry: s.entry, event: toEvent(s, dataKey) }));
  }

  /** One role's stream, stored form (the audit export: nothing decrypted). */
  storedStream(sessionId: string, role: Role) {
    return readStream(this.db, sessionId, role, 0);
  }

  /** A side's numbers: only that side's BidSet events are read and opened, never the rest of the log. */
  async sideBids(sessionId: string, side: Side) {
    const r = await this.db.query<{ version: number; type: string; at: number | string; payload: unknown }>(
      `SELECT version, type, at, payload FROM session_events
        WHERE session_id=$1 AND type='BidSet' AND payload->>'side' = $2 ORDER BY version`,
      [sessionId, side],
    );
    if (r.rows.length === 0) return [];
    const dataKey = await this.currentDataKey(sessionId);
    return r.rows.map((row) => {
      const stored = {
        sessionId,
        version: row.version,
        type: row.type,
        at: Number(row.at),
        actor: null,
        payload: row.payload as Record<string, unknown>,
        digest: "",
        chainHash: "",
      };
      return toEvent(stored, dataKey) as Extract<SessionEvent, { type: "BidSet" }>;
    });
  }
}

function fold(stored: StoredEvent[], dataKey: Buffer | null): SessionState | null {
  let state: SessionState | null = null;
  for (const s of stored) state = evolve(state, toEvent(s, dataKey));
  return state;
}

/** A stored event, its sealed fields opened with `dataKey` (null after shredding: they read as null). */
export function toEvent(s: StoredEvent, dataKey: Buffer | null): SessionEvent {
  const payload = unsealPayload(s, dataKey, sealedFields);
  return { ...payload, type: s.type, at: s.at } as SessionEvent;
}
