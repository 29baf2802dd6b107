// The application service: per command, lock the session row, rebuild state, decide, append, commit,
// then (only after the commit) publish and ensure deadlines. One path for REST, sockets and the clock.
import { createHmac, randomUUID } from "node:crypto";
import {
  type ClientCommand,
  type Command,
  decide,
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
import type { Metrics } from "../metrics";
import { canonicalJson } from "../store/canonical-json";
import { newDataKey, unwrapKey, wrapKey } from "../store/crypto";
import type { Db, Queryable } from "../store/db";
import {
  appendEvents,
  ConcurrencyError,
  destroySessionKey,
  GENESIS_HASH,
  lockSession,
  readEvents,
  type StoredEvent,
  unsealPayload,
} from "../store/event-log";
import type { Scheduler } from "../timers/scheduler";
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
  version: number;
  /** the new events, plaintext, with their versions (for publishing through visibility) */
  events: Array<{ version: number; chainHash: string; event: SessionEvent }>;
  state: SessionState;
  /** true when this was a retry of an already-applied command (same idempotency key) */
  duplicate: boolean;
}

export interface Publisher {
  publish(committed: Committed): void;
}

export interface SessionServiceDeps {
  db: Db;
  masterKey: Buffer;
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
          "INSERT INTO sessions (id, title, created_by, version, chain_hash, phase, wrapped_key) VALUES ($1,$2,$3,0,$4,'setup',$5)",
          [sessionId, input.title, actor.id, GENESIS_HASH, wrapKey(this.deps.masterKey, dataKey)],
        );
        const loaded: Loaded = { state: null as unknown as SessionState, chainHash: GENESIS_HASH, dataKey };
        return this.commit(q, sessionId, null, loaded, decision.events, actor.id, null);
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
    let receiptHash: string | null = null;
    try {
      const committed = await this.track(
        this.deps.db.tx(async (q) => {
          const loaded = await this.lockAndLoad(q, sessionId);
          if (!loaded)
            throw new AppError("SESSION_NOT_FOUND", "There is no such session, or you are not in it.");
          receiptHash =
            idempotencyKey && typeof input !== "function" ? commandHash(loaded.dataKey, input) : null;
          if (idempotencyKey) {
            const prior = await q.query<{ version: number; command_hash: string | null }>(
              "SELECT version, command_hash FROM command_receipts WHERE session_id=$1 AND user_id=$2 AND idempotency_key=$3",
              [sessionId, actor.id, idempotencyKey],
            );
            const receipt = prior.rows[0];
            if (receipt && receiptHash && receipt.command_hash && receipt.command_hash !== receiptHash) {
              throw new AppError(
                "CONFLICT",
                "This idempotency key was already used for a different request. Use a new key for a new action.",
              );
            }
            if (prior.rows[0]) {
              return {
                sessionId,
                version: prior.rows[0].version,
                events: [],
                state: loaded.state,
                duplicate: true,
              };
            }
          }
          // Work that must share the command's transaction (redeeming an invitation token, storing one).
          const command = typeof input === "function" ? await input(q) : input;
          type = command.type;
          if (command.type !== "JoinSession" && !loaded.state.members[actor.id]) {
            throw new AppError("SESSION_NOT_FOUND", "There is no such session, or you are not in it.");
          }
          const full = toEngineCommand(command, actor, loaded.state);
          const decision = decide(loaded.state, full, { now: this.now(), random: this.deps.random });
          if (!decision.ok) throw new AppError(decision.code, decision.message, decision.retryAt);
          return this.commit(
            q,
            sessionId,
            loaded.state,
            loaded,
            decision.events,
            actor.id,
            idempotencyKey,
            receiptHash,
          );
        }),
      );
      this.deps.metrics?.commandsTotal.inc({ type, outcome: "ok" });
      // Ids, types and versions only: a command's payload is never logged.
      this.deps.log.debug(
        { sessionId, type, version: committed.version, duplicate: committed.duplicate },
        "command applied",
      );
      this.afterCommit(committed);
      return committed;
    } catch (caught) {
      // The row lock makes this unreachable in practice; if two writers ever meet, nothing was stored.
      const err =
        caught instanceof ConcurrencyError
          ? new AppError(
              "CONFLICT",
              "The session changed at the same moment. Nothing was saved; please try again.",
            )
          : caught;
      const outcome = err instanceof AppError ? err.code : "INTERNAL";
      this.deps.metrics?.commandsTotal.inc({ type, outcome });
      this.deps.log.debug({ sessionId, type, outcome }, "command refused");
      throw err;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.deps.metrics?.commandDuration.observe({ type }, seconds);
    }
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
        return this.commit(q, sessionId, loaded.state, loaded, decision.events, null, null);
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
    const cached = this.cache.peek(sessionId);
    const row = await this.deps.db.query<{ version: number }>("SELECT version FROM sessions WHERE id=$1", [
      sessionId,
    ]);
    const version = row.rows[0]?.version;
    if (version === undefined) return null;
    if (cached && cached.version === version) return cached;
    const loaded = await this.loadFrom(this.deps.db, sessionId, null);
    return loaded?.state ?? null;
  }

  async readStoredEvents(sessionId: string, sinceVersion = 0): Promise<StoredEvent[]> {
    return readEvents(this.deps.db, sessionId, sinceVersion);
  }

  /** Plaintext events after `sinceVersion` (shredded amounts read back as null). */
  async eventsSince(
    sessionId: string,
    sinceVersion: number,
  ): Promise<Array<{ version: number; event: SessionEvent }>> {
    const meta = await this.deps.db.query<{ wrapped_key: string | null }>(
      "SELECT wrapped_key FROM sessions WHERE id=$1",
      [sessionId],
    );
    const wrapped = meta.rows[0]?.wrapped_key ?? null;
    const dataKey = wrapped ? unwrapKey(this.deps.masterKey, wrapped) : null;
    const stored = await readEvents(this.deps.db, sessionId, sinceVersion);
    return stored.map((s) => ({ version: s.version, event: toEvent(s, dataKey) }));
  }

  /**
   * What a member missed since `sinceVersion`, as that member may see it (a direct reply: its own side's
   * numbers may be in it). Too far behind, or ahead of the log, answers with a fresh snapshot instead.
   */
  async syncFor(sessionId: string, viewer: Viewer, sinceVersion: number) {
    const state = await this.read(sessionId);
    if (!state) throw new AppError("SESSION_NOT_FOUND", "There is no such session, or you are not in it.");
    if (sinceVersion > state.version || state.version - sinceVersion > SYNC_EVENT_LIMIT) {
      return { ok: true as const, version: state.version, snapshot: viewState(state, viewer, this.now()) };
    }
    const events = [];
    for (const { version, event } of await this.eventsSince(sessionId, sinceVersion)) {
      const visible = projectEvent(event, viewer, state);
      if (visible) events.push({ version, event: visible });
    }
    return { ok: true as const, version: state.version, events };
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
    const r = await this.deps.db.query<{
      id: string;
      title: string;
      phase: Phase;
      role: Role;
      version: number;
      can_bid: boolean;
    }>(
      `SELECT s.id, s.title, s.phase, m.role, s.version, m.can_bid FROM session_members m
       JOIN sessions s ON s.id = m.session_id WHERE m.user_id=$1 ORDER BY s.created_at DESC`,
      [userId],
    );
    return r.rows.map((x) => ({
      id: x.id,
      title: x.title,
      phase: x.phase,
      role: x.role,
      canBid: x.can_bid,
      version: x.version,
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
    if (cached && cached.version === meta.version)
      return { state: cached, chainHash: meta.chainHash, dataKey };
    return this.loadFrom(q, sessionId, { chainHash: meta.chainHash, dataKey });
  }

  private async loadFrom(
    q: Queryable,
    sessionId: string,
    meta: { chainHash: string; dataKey: Buffer | null } | null,
  ): Promise<Loaded | null> {
    let chainHash = meta?.chainHash;
    let dataKey = meta?.dataKey ?? null;
    if (!meta) {
      const r = await q.query<{ chain_hash: string; wrapped_key: string | null }>(
        "SELECT chain_hash, wrapped_key FROM sessions WHERE id=$1",
        [sessionId],
      );
      const row = r.rows[0];
      if (!row) return null;
      chainHash = row.chain_hash;
      dataKey = row.wrapped_key ? unwrapKey(this.deps.masterKey, row.wrapped_key) : null;
    }
    const stored = await readEvents(q, sessionId, 0);
    if (stored.length === 0) return null;
    let state: SessionState | null = null;
    for (const s of stored) state = evolve(state, toEvent(s, dataKey));
    const loaded = state as SessionState;
    // Only a state read under the session's lock is cached: an unlocked read may race a commit that destroys the
    // key, and must not put a plaintext copy back after that commit dropped it.
    if (meta) this.cache.put(sessionId, loaded);
    return { state: loaded, chainHash: chainHash as string, dataKey };
  }

  private async commit(
    q: Queryable,
    sessionId: string,
    before: SessionState | null,
    loaded: Loaded,
    events: SessionEvent[],
    actorId: string | null,
    idempotencyKey: string | null,
    receiptHash: string | null = null,
  ): Promise<Committed> {
    if (!loaded.dataKey) throw new AppError("SESSION_ENDED", "This session has ended.");
    const expected = before?.version ?? 0;
    const stored = await appendEvents(
      q,
      sessionId,
      expected,
      loaded.chainHash,
      events.map((e) => ({ type: e.type, at: e.at, actor: actorId, payload: payloadOf(e) })),
      loaded.dataKey,
      sealedFields,
    );
    let state = before;
    const versioned: Committed["events"] = [];
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as SessionEvent;
      state = evolve(state, event);
      const row = stored[i] as StoredEvent;
      versioned.push({ version: row.version, chainHash: row.chainHash, event });
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
    if (after.phase === "ended" && after.outcome !== "deal") {
      // No deal: erase the key, and the numbers with it.
      await destroySessionKey(q, sessionId);
    }
    if (idempotencyKey && actorId) {
      await q.query(
        "INSERT INTO command_receipts (session_id, user_id, idempotency_key, version, command_hash) VALUES ($1,$2,$3,$4,$5)",
        [sessionId, actorId, idempotencyKey, after.version, receiptHash],
      );
    }
    return { sessionId, version: after.version, events: versioned, state: after, duplicate: false };
  }

  private afterCommit(committed: Committed): void {
    if (committed.duplicate || committed.events.length === 0) return;
    // Cached only once committed, so a rolled-back transaction never leaves a phantom version behind.
    // A session that ended without a deal had its key destroyed: drop the plaintext copy too.
    if (committed.state.phase === "ended" && committed.state.outcome !== "deal")
      this.cache.delete(committed.sessionId);
    else this.cache.put(committed.sessionId, committed.state);
    try {
      this.deps.publisher.publish(committed);
    } catch (err) {
      this.deps.log.error({ err: errName(err), sessionId: committed.sessionId }, "publish failed");
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
        this.deps.log.error({ err: errName(err), sessionId }, "scheduling failed");
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
    if (!resolved.ok) throw new AppError("INVALID_RULES", resolved.message);
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

function errName(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : "unknown error";
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(s: string): boolean {
  return UUID.test(s);
}
