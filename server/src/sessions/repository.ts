// The sessions' SQL: the session row, its members, deadlines and receipts, and the decrypted reading of its log.
// No rule lives here: the command pipeline (commands.ts) decides what to write, the read side (reads.ts) what to show.
import {
  eventStreams,
  evolve,
  Folding,
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
  addAppends,
  advanceStreams,
  executeAppends,
  GENESIS_HASH,
  initialStreamHeads,
  insertStreamEntries,
  type LockedSession,
  mergeAppends,
  parseStreamHeads,
  readEvents,
  readEventsOf,
  readStream,
  type StagedAppend,
  type StoredEvent,
  type StreamEntry,
  type StreamHeads,
  unsealPayload,
} from "../store/event-log";
import { CteStatement } from "../store/sql";

/** A session as a command finds it under its row lock. */
export interface Loaded {
  state: SessionState;
  chainHash: string;
  heads: StreamHeads;
  /** null once the key was destroyed (no deal) */
  dataKey: Buffer | null;
}

/** What one batch writes for one session (a due tick and a command on the same session are merged). */
export interface SessionWrite {
  append: StagedAppend;
  /** the session's open deadlines after it, when they changed (undefined: unchanged, not rewritten) */
  deadlines?: ReadonlyArray<{ key: string; kind: string; at: number }>;
  receipts: Array<{
    userId: string;
    key: string;
    version: number;
    commandHash: string | null;
    position: number | null;
  }>;
  members: Array<{ userId: string; role: Role; canBid: boolean }>;
}

/** The writes a batch defers to its end: one statement for all of its sessions (SessionRepository.writeBatch). */
export class BatchWrites {
  readonly sessions = new Map<string, SessionWrite>();

  add(w: SessionWrite): void {
    const prev = this.sessions.get(w.append.sessionId);
    this.sessions.set(
      w.append.sessionId,
      prev
        ? {
            append: mergeAppends(prev.append, w.append),
            deadlines: w.deadlines ?? prev.deadlines,
            receipts: [...prev.receipts, ...w.receipts],
            members: [...prev.members, ...w.members],
          }
        : w,
    );
  }
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

  /**
   * Locks a batch's session rows at once, in id order (so two batches on two nodes never wait on each other in a
   * cycle), until the transaction ends, and reads the idempotency receipt each unit asks about in the same statement.
   * Unknown ids are left out of the map.
   */
  async lockBatch(
    q: Queryable,
    wanted: ReadonlyArray<{ sessionId: string; receipt?: { userId: string; key: string } }>,
  ): Promise<Map<string, LockedSession & { dataKey: Buffer | null; receipt: Receipt | null }>> {
    const units = wanted.filter((w) => isUuid(w.sessionId));
    const locked = new Map<string, LockedSession & { dataKey: Buffer | null; receipt: Receipt | null }>();
    if (units.length === 0) return locked;
    const asking = units.filter((u) => u.receipt);
    const stmt = new CteStatement();
    const ids = units.map((u) => stmt.param(u.sessionId, "uuid")).join(", ");
    // The receipts' join only when a unit has an idempotency key (a plain primary-key lookup otherwise).
    const receipts =
      asking.length === 0
        ? ""
        : `LEFT JOIN (${stmt.rows(
            asking.map((u) => [u.sessionId, u.receipt?.userId, u.receipt?.key]),
            ["uuid", "uuid", "text"],
          )}) AS k(session_id, user_id, key) ON k.session_id = s.id
           LEFT JOIN command_receipts r
                  ON r.session_id = k.session_id AND r.user_id = k.user_id AND r.idempotency_key = k.key`;
    const r = await q.query<{
      id: string;
      version: number;
      chain_hash: string;
      phase: string;
      wrapped_key: string | null;
      key_destroyed: boolean;
      streams: unknown;
      receipt_found?: boolean | null;
      receipt_position?: number | null;
      receipt_hash?: string | null;
    }>(
      `SELECT s.id, s.version, s.chain_hash, s.phase, s.wrapped_key, s.key_destroyed_at IS NOT NULL AS key_destroyed,
              s.streams${
                asking.length === 0
                  ? ""
                  : `, r.session_id IS NOT NULL AS receipt_found, r.position AS receipt_position,
              r.command_hash AS receipt_hash`
              }
         FROM sessions s ${receipts}
        WHERE s.id IN (${ids}) ORDER BY s.id FOR UPDATE OF s`,
      stmt.params,
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
        receipt: row.receipt_found
          ? { position: row.receipt_position ?? null, commandHash: row.receipt_hash ?? null }
          : null,
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

  /**
   * Many sessions' states in one query (a batch's cache misses), under their row locks: each from its whole log, or,
   * given `from` (a state this node committed or replayed under the lock earlier, older than the row), from the events
   * after it. A session another node moved on is brought up to date by its few new events, not by its whole log (on two
   * web nodes the two sides of a mediation are often on different nodes, and each command would otherwise replay the
   * session). Versions are consecutive (each append writes the row's next version under its guard), so the events
   * after `from` continue it.
   */
  async replayMany(
    q: Queryable,
    sessions: ReadonlyArray<{ sessionId: string; dataKey: Buffer | null; from?: SessionState }>,
  ): Promise<Map<string, SessionState>> {
    const states = new Map<string, SessionState>();
    if (sessions.length === 0) return states;
    const byId = new Map(sessions.map((s) => [s.sessionId, s]));
    const bySession = new Map<string, StoredEvent[]>();
    const wanted = sessions.map((s) => ({ sessionId: s.sessionId, afterVersion: s.from?.version ?? 0 }));
    for (const e of await readEventsOf(q, wanted)) {
      const list = bySession.get(e.sessionId);
      if (list) list.push(e);
      else bySession.set(e.sessionId, [e]);
    }
    for (const [sessionId, stored] of bySession) {
      const { dataKey, from } = byId.get(sessionId) as (typeof sessions)[number];
      const state = fold(stored, dataKey, from ?? null);
      if (state) states.set(sessionId, state);
    }
    return states;
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

  /**
   * Writes a batch's staged appends and everything that goes with them in one statement: the session rows (version,
   * chain, heads, phase, title, key destruction), events, stream entries, members, receipts, and the deadlines of the
   * sessions whose deadlines changed, and whatever `also` adds (the batch's notices). All of it or nothing, even
   * without a transaction around it: throws ConcurrencyError when a session row moved on, and nothing was stored.
   */
  async writeBatch(q: Queryable, writes: BatchWrites, also?: (stmt: CteStatement) => void): Promise<void> {
    const all = [...writes.sessions.values()];
    if (all.length === 0) return;
    const stmt = new CteStatement();
    also?.(stmt);
    const appends = all.map((w) => w.append);
    addAppends(stmt, appends);
    const members = all.flatMap((w) => w.members.map((m) => ({ sessionId: w.append.sessionId, ...m })));
    stmt.insert(
      "joined",
      "session_members",
      { session_id: "uuid", user_id: "uuid", role: "text", can_bid: "bool" },
      members.map((m) => [m.sessionId, m.userId, m.role, m.canBid]),
      "ON CONFLICT DO NOTHING",
    );
    const receipts = all.flatMap((w) => w.receipts.map((r) => ({ sessionId: w.append.sessionId, ...r })));
    stmt.insert(
      "receipted",
      "command_receipts",
      {
        session_id: "uuid",
        user_id: "uuid",
        idempotency_key: "text",
        version: "int",
        command_hash: "text",
        position: "int",
      },
      receipts.map((r) => [r.sessionId, r.userId, r.key, r.version, r.commandHash, r.position]),
    );
    // The database holds every deadline: a session's rows are rewritten only when its open deadlines changed. The
    // rows that stay are updated in place and the others deleted (one statement may not delete and insert one key).
    const moved = all.filter((w) => w.deadlines !== undefined);
    if (moved.length > 0) {
      const rows = moved.flatMap((w) =>
        (w.deadlines ?? []).map((d) => ({ sessionId: w.append.sessionId, ...d })),
      );
      const movedIds = moved.map((w) => w.append.sessionId);
      stmt.with(
        "deadlines_gone",
        `DELETE FROM deadlines d
          WHERE d.session_id IN (${movedIds.map((id) => stmt.param(id, "uuid")).join(", ")})${
            rows.length === 0
              ? ""
              : ` AND (d.session_id, d.key) NOT IN (${stmt.rows(
                  rows.map((d) => [d.sessionId, d.key]),
                  ["uuid", "text"],
                )})`
          }`,
      );
      stmt.insert(
        "deadlines_set",
        "deadlines",
        { session_id: "uuid", key: "text", kind: "text", due_at: "bigint" },
        rows.map((d) => [d.sessionId, d.key, d.kind, d.at]),
        "ON CONFLICT (session_id, key) DO UPDATE SET kind = EXCLUDED.kind, due_at = EXCLUDED.due_at",
      );
    }
    await executeAppends(q, stmt, appends);
  }

  /**
   * Each session's next deadline (all sessions, or those whose next one is due by `dueBefore`), earliest first: one
   * query for the single trigger every session with an open deadline has.
   */
  async nextDeadlines(dueBefore?: number): Promise<Array<{ sessionId: string; dueAt: number }>> {
    const r = await this.db.query<{ session_id: string; due_at: string | number }>(
      dueBefore === undefined
        ? "SELECT session_id, MIN(due_at) AS due_at FROM deadlines GROUP BY session_id ORDER BY 2"
        : // The sessions with a deadline due by then, found through the due-time index (the sweep runs every 30 s;
          // a GROUP BY over every row would read the whole table each time), then each one's earliest.
          `SELECT session_id, MIN(due_at) AS due_at FROM deadlines
            WHERE session_id IN (SELECT session_id FROM deadlines WHERE due_at <= $1)
            GROUP BY session_id ORDER BY 2`,
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

function fold(
  stored: StoredEvent[],
  dataKey: Buffer | null,
  from: SessionState | null = null,
): SessionState | null {
  const folding = new Folding(from);
  for (const s of stored) folding.apply(toEvent(s, dataKey));
  return folding.state;
}

/** A stored event, its sealed fields opened with `dataKey` (null after shredding: they read as null). */
export function toEvent(s: StoredEvent, dataKey: Buffer | null): SessionEvent {
  const payload = unsealPayload(s, dataKey, sealedFields);
  return { ...payload, type: s.type, at: s.at } as SessionEvent;
}
