// The application service: per command, lock the session row, rebuild state, decide, append, commit,
// then (only after the commit) publish and ensure deadlines. One path for REST, sockets and the clock.
import { createHmac, randomUUID } from "node:crypto";
import {
  type ClientCommand,
  type Command,
  decide,
  errors,
  eventStreams,
  evolve,
  openDeadlines,
  type Phase,
  projectEvent,
  type Random,
  type Role,
  resolveRules,
  SERVER_FILLED_IDS,
  type SessionEvent,
  type SessionState,
  type Side,
  sealedFields,
  type Viewer,
  viewState,
} from "@backchannel/common";
import type { Logger } from "pino";
import { AppError } from "../errors";
import { errorText } from "../log";
import type { Metrics } from "../metrics";
import { canonicalJson } from "../store/canonical-json";
import { newDataKey, unwrapKey, wrapKey } from "../store/crypto";
import type { Db, Queryable } from "../store/db";
import {
  advanceStreams,
  appendEvents,
  ConcurrencyError,
  destroySessionKey,
  GENESIS_HASH,
  initialStreamHeads,
  insertStreamEntries,
  lockSession,
  parseStreamHeads,
  readEvents,
  readStream,
  type StoredEvent,
  type StreamEntry,
  type StreamHeads,
  unsealPayload,
} from "../store/event-log";
import type { HeadSigner, SignedHead } from "../store/signing";
import type { Scheduler } from "../timers/scheduler";
import type { CacheEvictions } from "./evictions";
import { StateCache } from "./state-cache";

/** Beyond this many missed events a sync answers with a fresh snapshot instead of the events. */
const SYNC_EVENT_LIMIT = 500;

type WithoutActor<C> = C extends unknown ? Omit<C, "actor" | "actorName"> : never;

/** What callers hand the service: a client command, or a REST-only one; the actor is filled in here. */
export type ServiceCommand =
  | ClientCommand
  | WithoutActor<Extract<Command, { type: "JoinSession" | "IssueInvitation" | "RevokeInvitation" }>>;

export interface Actor {
  id: string;
  name: string;
}

export interface Committed {
  sessionId: string;
  /** the session's global version: internal, never sent to a party (its gaps would show hidden events) */
  version: number;
  /** the session chain's hash after the command */
  chainHash: string;
  /** the new events, plaintext, each with its place in the streams of the roles that see it */
  events: Array<{ version: number; chainHash: string; event: SessionEvent; streams: StreamEntry[] }>;
  state: SessionState;
  /** every stream's position and head after the command */
  heads: StreamHeads;
  /**
   * The acting member's stream position after the command: what its ack says. For a retry, the position the
   * first attempt produced. Null for the clock.
   */
  actorPosition: number | null;
  /** true when this was a retry of an already-applied command (same idempotency key) */
  duplicate: boolean;
  /** the session's data key after the command: null once it was destroyed (no deal) */
  dataKeyAfter: Buffer | null;
}

export interface Publisher {
  publish(committed: Committed): void;
}

export interface SessionServiceDeps {
  db: Db;
  masterKey: Buffer;
  /** signs the stream heads parties receive */
  signer: HeadSigner;
  /** with several nodes: tells every node to drop a session's cached state when its key is destroyed */
  evictions?: CacheEvictions;
  scheduler: Scheduler;
  publisher: Publisher;
  metrics?: Metrics;
  log: Logger;
  random: Random;
  now?: () => number;
}

interface Loaded {
  state: SessionState;
  chainHash: string;
  heads: StreamHeads;
  dataKey: Buffer | null;
}

export class SessionService {
  private readonly cache = new StateCache(500);
  private readonly now: () => number;
  private readonly inflight = new Set<Promise<unknown>>();
  /** Set during shutdown: deadline rows are committed and start-up reconciliation schedules them. */
  private schedulingStopped = false;

  constructor(private readonly deps: SessionServiceDeps) {
    this.now = deps.now ?? Date.now;
    deps.evictions?.onEvict((sessionId) => this.cache.delete(sessionId));
  }

  /** Whether this node holds a session's state in memory (tests check that shredding reached every node). */
  holdsState(sessionId: string): boolean {
    return this.cache.has(sessionId);
  }

  /** Creates a session; the creator becomes its first member. */
  async create(
    actor: Actor,
    input: Omit<Extract<Command, { type: "CreateSession" }>, "type" | "actor" | "actorName" | "sessionId">,
  ): Promise<Committed> {
    const sessionId = randomUUID();
    const command: Command = {
      type: "CreateSession",
      actor: actor.id,
      actorName: actor.name,
      sessionId,
      ...input,
    };
    const now = this.now();
    const decision = decide(null, command, { now, random: this.deps.random });
    if (!decision.ok) throw new AppError(decision.code, decision.message, decision.retryAt);
    const dataKey = newDataKey();
    const committed = await this.track(
      this.deps.db.tx(async (q) => {
        await q.query(
          "INSERT INTO sessions (id, title, created_by, version, chain_hash, phase, wrapped_key, streams) VALUES ($1,$2,$3,0,$4,'setup',$5,$6::jsonb)",
          [
            sessionId,
            input.title,
            actor.id,
            GENESIS_HASH,
            wrapKey(this.deps.masterKey, dataKey),
            JSON.stringify(initialStreamHeads()),
          ],
        );
        return this.commit(q, sessionId, null, GENESIS_HASH, initialStreamHeads(), dataKey, decision.events, {
          actorId: actor.id,
          idempotencyKey: null,
          receiptHash: null,
        });
      }),
    );
    this.afterCommit(committed);
    return committed;
  }

  /**
   * Runs one command for a session. `idempotencyKey` makes retries safe: the same key from the same
   * user applies once and later answers with the version it produced.
   */
  async execute(
    sessionId: string,
    actor: Actor,
    input: ServiceCommand | ((q: Queryable) => Promise<ServiceCommand>),
    idempotencyKey: string | null,
  ): Promise<Committed> {
    const started = process.hrtime.bigint();
    let type = typeof input === "function" ? "Unknown" : input.type;
    let outcome = "INTERNAL";
    try {
      const { due, result } = await this.track(
        this.deps.db.tx(async (q): Promise<{ due: Committed | null; result: Committed | AppError }> => {
          const loaded = await this.lockAndLoad(q, sessionId);
          if (!loaded) throw notFound();
          const receiptHash =
            idempotencyKey && typeof input !== "function" ? commandHash(loaded.dataKey, input) : null;
          if (idempotencyKey) {
            const duplicate = await this.priorReceipt(
              q,
              sessionId,
              actor,
              idempotencyKey,
              receiptHash,
              loaded,
            );
            if (duplicate) return { due: null, result: duplicate };
          }
          // Deadlines that fell due before this command are applied first, in their own right: committed and
          // announced to everyone even when the command is then refused, so its sender never learns of a deal
          // (or any other outcome) through its refusal before the others hear of it.
          const now = this.now();
          const tick = decide(loaded.state, { type: "Tick" }, { now, random: this.deps.random });
          const due =
            tick.ok && tick.events.length > 0
              ? await this.commit(
                  q,
                  sessionId,
                  loaded.state,
                  loaded.chainHash,
                  loaded.heads,
                  loaded.dataKey,
                  tick.events,
                  {
                    actorId: null,
                    idempotencyKey: null,
                    receiptHash: null,
                  },
                )
              : null;
          const base = due
            ? { state: due.state, chainHash: due.chainHash, heads: due.heads, dataKey: due.dataKeyAfter }
            : loaded;
          if (due) await q.query("SAVEPOINT command");
          try {
            // Work that must share the command's transaction (redeeming an invitation token, storing one).
            const command = typeof input === "function" ? await input(q) : input;
            type = command.type;
            if (command.type !== "JoinSession" && !base.state.members[actor.id]) throw notFound();
            const full = toEngineCommand(command, actor, base.state);
            const decision = decide(base.state, full, { now, random: this.deps.random });
            if (!decision.ok) throw new AppError(decision.code, decision.message, decision.retryAt);
            const result = await this.commit(
              q,
              sessionId,
              base.state,
              base.chainHash,
              base.heads,
              base.dataKey,
              decision.events,
              { actorId: actor.id, idempotencyKey, receiptHash },
            );
            return { due, result };
          } catch (err) {
            // With due events committed, a refused command is undone alone; the deadlines stand.
            if (!due || !(err instanceof AppError)) throw err;
            await q.query("ROLLBACK TO SAVEPOINT command");
            return { due, result: err };
          }
        }),
      );
      if (due) this.afterCommit(due);
      if (result instanceof AppError) throw result;
      outcome = "ok";
      // Ids, types and versions only: a command's payload is never logged.
      this.deps.log.debug(
        { sessionId, type, version: result.version, duplicate: result.duplicate },
        "command applied",
      );
      this.afterCommit(result);
      return result;
    } catch (caught) {
      // The row lock makes this unreachable in practice; if two writers ever meet, nothing was stored.
      const err = caught instanceof ConcurrencyError ? new AppError(errors.concurrentChange()) : caught;
      outcome = err instanceof AppError ? err.code : "INTERNAL";
      this.deps.log.debug({ sessionId, type, outcome }, "command refused");
      throw err;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.deps.metrics?.observeCommand(type, outcome, seconds);
    }
  }

  /** A retry of a command already applied (same user, same key): its result again, or CONFLICT for another command. */
  private async priorReceipt(
    q: Queryable,
    sessionId: string,
    actor: Actor,
    idempotencyKey: string,
    receiptHash: string | null,
    loaded: Loaded,
  ): Promise<Committed | null> {
    const prior = await q.query<{ position: number | null; command_hash: string | null }>(
      "SELECT position, command_hash FROM command_receipts WHERE session_id=$1 AND user_id=$2 AND idempotency_key=$3",
      [sessionId, actor.id, idempotencyKey],
    );
    const receipt = prior.rows[0];
    if (!receipt) return null;
    if (receiptHash && receipt.command_hash && receipt.command_hash !== receiptHash) {
      throw new AppError(errors.idempotencyKeyReused());
    }
    const role = loaded.state.members[actor.id]?.role;
    return {
      sessionId,
      version: loaded.state.version,
      chainHash: loaded.chainHash,
      events: [],
      state: loaded.state,
      heads: loaded.heads,
      dataKeyAfter: loaded.dataKey,
      // A receipt from before streams existed knows no position: answer with the current one.
      actorPosition: receipt.position ?? (role ? loaded.heads[role].position : null),
      duplicate: true,
    };
  }

  /** The clock: applies the engine's idempotent tick. Safe to call any number of times. */
  async tick(sessionId: string): Promise<Committed | null> {
    let idle: SessionState | null = null;
    const committed = await this.track(
      this.deps.db.tx(async (q) => {
        const loaded = await this.lockAndLoad(q, sessionId);
        if (!loaded) return null;
        const decision = decide(
          loaded.state,
          { type: "Tick" },
          { now: this.now(), random: this.deps.random },
        );
        if (!decision.ok || decision.events.length === 0) {
          idle = loaded.state;
          return null;
        }
        return this.commit(
          q,
          sessionId,
          loaded.state,
          loaded.chainHash,
          loaded.heads,
          loaded.dataKey,
          decision.events,
          { actorId: null, idempotencyKey: null, receiptHash: null },
        );
      }),
    );
    if (committed) {
      this.deps.log.debug(
        { sessionId, version: committed.version, events: committed.events.map((e) => e.event.type) },
        "deadline applied",
      );
      this.afterCommit(committed);
    }
    // Nothing was due: a trigger fired early (or raced a moved deadline). Re-arm the real deadlines.
    else if (idle) this.ensureDeadlines(sessionId, idle);
    return committed;
  }

  /** Current state (with plaintext numbers: callers must pass it through visibility before it leaves). */
  async read(sessionId: string): Promise<SessionState | null> {
    return (await this.readWithHeads(sessionId))?.state ?? null;
  }

  /** Current state and every stream's position and head. */
  private async readWithHeads(
    sessionId: string,
  ): Promise<{ state: SessionState; heads: StreamHeads } | null> {
    if (!isUuid(sessionId)) return null;
    const row = await this.deps.db.query<{ version: number; streams: unknown }>(
      "SELECT version, streams FROM sessions WHERE id=$1",
      [sessionId],
    );
    const found = row.rows[0];
    if (!found) return null;
    let heads = parseStreamHeads(found.streams);
    // A session stored before streams existed is numbered once, under its lock.
    if (!heads) heads = (await this.deps.db.tx((q) => this.lockAndLoad(q, sessionId)))?.heads ?? null;
    if (!heads) return null;
    const cached = this.cache.peek(sessionId);
    if (cached && cached.version === found.version) return { state: cached, heads };
    // A stale entry holds plaintext the session may no longer allow (a key destroyed elsewhere): drop it.
    if (cached) this.cache.delete(sessionId);
    const loaded = await this.loadUnlocked(sessionId);
    return loaded ? { state: loaded.state, heads } : null;
  }

  /** A member's snapshot: the view, its stream position, and the signed head at that position. */
  async viewFor(sessionId: string, viewer: Viewer) {
    const found = await this.readWithHeads(sessionId);
    if (!found) throw notFound();
    return this.present(sessionId, found.state, found.heads, viewer);
  }

  /** The view and signed head of a state the caller already holds (a command's result). */
  present(sessionId: string, state: SessionState, heads: StreamHeads, viewer: Viewer) {
    const { position, head } = heads[viewer.role];
    return {
      version: position,
      view: viewState(state, viewer, this.now(), position),
      head: this.signHead(sessionId, viewer.role, position, head),
    };
  }

  /**
   * The one answer to a command, for the socket and REST alike: the sender's stream position after it, and for
   * SetNumber the sender's side's number (the only place a number reaches a client without asking).
   */
  ackFor(committed: Committed, userId: string, commandType: string) {
    const member = committed.state.members[userId];
    if (!member || committed.actorPosition === null) throw notFound();
    const version = committed.actorPosition;
    if (commandType !== "SetNumber") return { ok: true as const, version };
    const own = viewState(committed.state, { userId, role: member.role }, this.now(), version).numbers.own;
    return own ? { ok: true as const, version, own } : { ok: true as const, version };
  }

  signHead(sessionId: string, stream: Role, position: number, head: string): SignedHead {
    return this.deps.signer.sign({ sessionId, stream, position, head });
  }

  async readStoredEvents(sessionId: string, sinceVersion = 0): Promise<StoredEvent[]> {
    return readEvents(this.deps.db, sessionId, sinceVersion);
  }

  /** One role's stream, stored form (audit export). */
  async readStoredStream(sessionId: string, role: Role) {
    return readStream(this.deps.db, sessionId, role, 0);
  }

  /** Plaintext events after `sinceVersion` (shredded amounts read back as null). */
  async eventsSince(
    sessionId: string,
    sinceVersion: number,
  ): Promise<Array<{ version: number; event: SessionEvent }>> {
    const dataKey = await this.currentDataKey(sessionId);
    const stored = await readEvents(this.deps.db, sessionId, sinceVersion);
    return stored.map((s) => ({ version: s.version, event: toEvent(s, dataKey) }));
  }

  private async currentDataKey(sessionId: string): Promise<Buffer | null> {
    const meta = await this.deps.db.query<{ wrapped_key: string | null }>(
      "SELECT wrapped_key FROM sessions WHERE id=$1",
      [sessionId],
    );
    const wrapped = meta.rows[0]?.wrapped_key ?? null;
    return wrapped ? unwrapKey(this.deps.masterKey, wrapped) : null;
  }

  /**
   * What a member missed since position `sinceVersion` of its role's stream, as that member may see it (a direct
   * reply: its own side's numbers may be in it). Too far behind, or ahead of the stream, answers with a fresh
   * snapshot instead. Every answer carries the signed head of the position it brings the member to.
   */
  async syncFor(sessionId: string, viewer: Viewer, sinceVersion: number) {
    const found = await this.readWithHeads(sessionId);
    if (!found) throw notFound();
    const { state, heads } = found;
    const current = heads[viewer.role];
    if (sinceVersion > current.position || current.position - sinceVersion > SYNC_EVENT_LIMIT) {
      const { version, view, head } = this.present(sessionId, state, heads, viewer);
      return { ok: true as const, version, snapshot: view, head };
    }
    const dataKey = await this.currentDataKey(sessionId);
    const stored = await readStream(this.deps.db, sessionId, viewer.role, sinceVersion, SYNC_EVENT_LIMIT);
    const events = [];
    let last = { position: sinceVersion, head: "" };
    for (const s of stored) {
      const visible = projectEvent(toEvent(s, dataKey), viewer, state);
      // Stored positions and visibility agree by construction; if they ever did not, sending nothing is safe.
      if (!visible) continue;
      events.push({ version: s.entry.position, event: visible });
      last = { position: s.entry.position, head: s.entry.head };
    }
    if (events.length === 0) {
      const { version, head } = this.present(sessionId, state, heads, viewer);
      return { ok: true as const, version, events, head };
    }
    return {
      ok: true as const,
      version: last.position,
      events,
      head: this.signHead(sessionId, viewer.role, last.position, last.head),
    };
  }

  /** Every number a side has had, for that side's own members only (RULES: own number and its history). */
  async numberHistory(sessionId: string, side: Side) {
    const history: Array<{ amount: number | null; at: number; by: string; step: 2 | 3 }> = [];
    for (const { event } of await this.eventsSince(sessionId, 0)) {
      if (event.type === "BidSet" && event.side === side) {
        history.push({ amount: event.amount, at: event.at, by: event.by, step: event.step });
      }
    }
    return history;
  }

  async roleOf(sessionId: string, userId: string): Promise<Viewer | null> {
    if (!isUuid(sessionId)) return null;
    const r = await this.deps.db.query<{ role: Role }>(
      "SELECT role FROM session_members WHERE session_id=$1 AND user_id=$2",
      [sessionId, userId],
    );
    const role = r.rows[0]?.role;
    return role ? { userId, role } : null;
  }

  async listForUser(userId: string) {
    // A member's version of a session is its role's stream position, never the session's global version.
    const r = await this.deps.db.query<{
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

  /** At start-up: every deadline stored in the database is (re)scheduled; overdue ones fire at once. */
  async reconcileDeadlines(opts: { dueBefore?: number } = {}): Promise<number> {
    const r = await this.deps.db.query<{ session_id: string; key: string; due_at: string | number }>(
      opts.dueBefore === undefined
        ? "SELECT session_id, key, due_at FROM deadlines ORDER BY due_at"
        : "SELECT session_id, key, due_at FROM deadlines WHERE due_at <= $1 ORDER BY due_at",
      opts.dueBefore === undefined ? [] : [opts.dueBefore],
    );
    const jobs = r.rows.map((x) => ({ sessionId: x.session_id, key: x.key, dueAt: Number(x.due_at) }));
    if (jobs.length > 0) await this.deps.scheduler.ensure(jobs);
    return jobs.length;
  }

  /** Shutdown: from now on deadlines are only stored, not handed to the scheduler (it is closing). */
  stopScheduling(): void {
    this.schedulingStopped = true;
  }

  /** Resolves once every command already running has committed or failed (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  // ------------------------------------------------------------------ internals

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  private async lockAndLoad(q: Queryable, sessionId: string): Promise<Loaded | null> {
    if (!isUuid(sessionId)) return null;
    const meta = await lockSession(q, sessionId);
    if (!meta) return null;
    const dataKey = meta.wrappedKey ? unwrapKey(this.deps.masterKey, meta.wrappedKey) : null;
    const cached = this.cache.peek(sessionId);
    if (cached && cached.version === meta.version && meta.streams)
      return { state: cached, chainHash: meta.chainHash, heads: meta.streams, dataKey };
    const state = await this.replayLocked(q, sessionId, dataKey);
    if (!state) return null;
    const heads = meta.streams ?? (await this.numberStreams(q, sessionId, dataKey));
    return { state, chainHash: meta.chainHash, heads, dataKey };
  }

  /** Rebuilds a session's state from its log. Only a state read under the session's lock is cached. */
  private async replayLocked(
    q: Queryable,
    sessionId: string,
    dataKey: Buffer | null,
  ): Promise<SessionState | null> {
    const stored = await readEvents(q, sessionId, 0);
    if (stored.length === 0) return null;
    let state: SessionState | null = null;
    for (const s of stored) state = evolve(state, toEvent(s, dataKey));
    // An unlocked read may race a commit that destroys the key, and must not put a plaintext copy back after it.
    this.cache.put(sessionId, state as SessionState);
    return state;
  }

  /** A session stored before streams existed: number its whole log into the three streams, once (under its lock). */
  private async numberStreams(q: Queryable, sessionId: string, dataKey: Buffer | null): Promise<StreamHeads> {
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
    this.deps.log.info({ sessionId }, "numbered the session's streams");
    return heads;
  }

  /** Rebuilds a state without the lock; never cached (see replayLocked). */
  private async loadUnlocked(sessionId: string): Promise<{ state: SessionState } | null> {
    const stored = await readEvents(this.deps.db, sessionId, 0);
    if (stored.length === 0) return null;
    const dataKey = await this.currentDataKey(sessionId);
    let state: SessionState | null = null;
    for (const s of stored) state = evolve(state, toEvent(s, dataKey));
    return { state: state as SessionState };
  }

  private async commit(
    q: Queryable,
    sessionId: string,
    before: SessionState | null,
    prevChainHash: string,
    headsBefore: StreamHeads,
    dataKey: Buffer | null,
    events: SessionEvent[],
    receipt: { actorId: string | null; idempotencyKey: string | null; receiptHash: string | null },
  ): Promise<Committed> {
    if (!dataKey) throw new AppError(errors.sessionEnded());
    const expected = before?.version ?? 0;
    // Each event goes to the streams of the roles that see it, judged on the session as it stands after the event.
    let state = before;
    const toAppend = events.map((e) => {
      state = evolve(state, e);
      return {
        type: e.type,
        at: e.at,
        actor: receipt.actorId,
        payload: payloadOf(e),
        streams: eventStreams(e, state as SessionState),
      };
    });
    const stored = await appendEvents(
      q,
      sessionId,
      expected,
      prevChainHash,
      toAppend,
      dataKey,
      sealedFields,
      headsBefore,
    );
    const heads: StreamHeads = structuredClone(headsBefore);
    const versioned: Committed["events"] = [];
    state = before;
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as SessionEvent;
      state = evolve(state, event);
      const row = stored[i] as (typeof stored)[number];
      for (const entry of row.streams) heads[entry.stream] = { position: entry.position, head: entry.head };
      versioned.push({ version: row.version, chainHash: row.chainHash, event, streams: row.streams });
      if (event.type === "MemberJoined" || event.type === "SessionCreated") {
        const userId = event.type === "MemberJoined" ? event.userId : event.createdBy;
        const member = (state as SessionState).members[userId];
        if (member) {
          await q.query(
            "INSERT INTO session_members (session_id, user_id, role, can_bid) VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING",
            [sessionId, userId, member.role, member.canBid],
          );
        }
      }
    }
    const after = state as SessionState;
    // The database holds every deadline; the scheduler is only a trigger.
    await q.query("DELETE FROM deadlines WHERE session_id=$1", [sessionId]);
    for (const d of openDeadlines(after)) {
      await q.query("INSERT INTO deadlines (session_id, key, kind, due_at) VALUES ($1,$2,$3,$4)", [
        sessionId,
        d.key,
        d.kind,
        d.at,
      ]);
    }
    await q.query("UPDATE sessions SET phase=$2, title=$3 WHERE id=$1", [
      sessionId,
      after.phase,
      after.title,
    ]);
    const keyDestroyed = after.phase === "ended" && after.outcome !== "deal";
    // No deal: erase the key, and the numbers with it.
    if (keyDestroyed) await destroySessionKey(q, sessionId);
    const actorRole = receipt.actorId ? after.members[receipt.actorId]?.role : undefined;
    const actorPosition = actorRole ? heads[actorRole].position : null;
    if (receipt.idempotencyKey && receipt.actorId) {
      await q.query(
        "INSERT INTO command_receipts (session_id, user_id, idempotency_key, version, command_hash, position) VALUES ($1,$2,$3,$4,$5,$6)",
        [
          sessionId,
          receipt.actorId,
          receipt.idempotencyKey,
          after.version,
          receipt.receiptHash,
          actorPosition,
        ],
      );
    }
    return {
      sessionId,
      version: after.version,
      chainHash: stored.at(-1)?.chainHash ?? prevChainHash,
      events: versioned,
      state: after,
      heads,
      actorPosition,
      duplicate: false,
      dataKeyAfter: keyDestroyed ? null : dataKey,
    };
  }

  private afterCommit(committed: Committed): void {
    if (committed.duplicate || committed.events.length === 0) return;
    // Cached only once committed, so a rolled-back transaction never leaves a phantom version behind.
    // A session that ended without a deal had its key destroyed: drop the plaintext copy too.
    if (committed.dataKeyAfter === null) {
      this.cache.delete(committed.sessionId);
      this.deps.evictions?.announce(committed.sessionId);
    } else this.cache.put(committed.sessionId, committed.state);
    try {
      this.deps.publisher.publish(committed);
    } catch (err) {
      this.deps.log.error({ err: errorText(err), sessionId: committed.sessionId }, "publish failed");
    }
    this.ensureDeadlines(committed.sessionId, committed.state);
  }

  private ensureDeadlines(sessionId: string, state: SessionState): void {
    if (this.schedulingStopped) return;
    const jobs = openDeadlines(state).map((d) => ({ sessionId, key: d.key, dueAt: d.at }));
    // A job left behind for a moved deadline is harmless: its handler re-reads the session and ticks.
    const scheduling =
      jobs.length > 0 ? this.deps.scheduler.ensure(jobs) : this.deps.scheduler.cancelSession(sessionId);
    this.track(
      scheduling.catch((err) => {
        // The deadline row is committed; start-up reconciliation will schedule it if this failed.
        this.deps.log.error({ err: errorText(err), sessionId }, "scheduling failed");
      }),
    );
  }
}

/** Fills in what only the server may decide: the actor, ids of new things, rules resolved against the session's. */
function toEngineCommand(command: ServiceCommand, actor: Actor, state: SessionState): Command {
  const full: Record<string, unknown> = { ...command, actor: actor.id, actorName: actor.name };
  const idField = (SERVER_FILLED_IDS as Record<string, string>)[command.type];
  if (idField) full[idField] = randomUUID();
  if (command.type === "UpdateSetup" && command.rules) {
    const resolved = resolveRules({ ...state.rules, ...command.rules });
    if (!resolved.ok) throw new AppError(errors.invalidRules(resolved.message));
    full.rules = resolved.rules;
  }
  return full as unknown as Command;
}

/**
 * What a receipt remembers of its command: an HMAC under the session's own key, never a plain hash (a command may
 * hold a number, and amounts are few enough to guess by hashing every candidate).
 */
function commandHash(dataKey: Buffer | null, command: ServiceCommand): string | null {
  if (!dataKey) return null;
  return createHmac("sha256", dataKey).update(canonicalJson(command)).digest("hex");
}

function payloadOf(e: SessionEvent): Record<string, unknown> {
  const { type: _t, at: _a, ...rest } = e;
  return rest;
}

function toEvent(s: StoredEvent, dataKey: Buffer | null): SessionEvent {
  const payload = unsealPayload(s, dataKey, sealedFields);
  return { ...payload, type: s.type, at: s.at } as SessionEvent;
}

function notFound(): AppError {
  return new AppError(errors.sessionNotFound());
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(s: string): boolean {
  return UUID.test(s);
}
