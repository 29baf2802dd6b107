// The command pipeline: per command, lock the session row, load its state, apply the deadlines already due (committed
// even if the command is then refused), decide, append, commit; only after the commit publish and schedule. One path
// for REST, sockets and the clock. Acknowledged means committed.
import { createHmac, randomUUID } from "node:crypto";
import {
  type ClientCommand,
  type Command,
  type CommandInput,
  decide,
  errors,
  eventStreams,
  evolve,
  nextDeadline,
  openDeadlines,
  type Random,
  SERVER_FILLED_IDS,
  type SessionEvent,
  type SessionState,
  sealedFields,
} from "@backchannel/common";
import type { Logger } from "pino";
import { AppError } from "../errors";
import { errorText } from "../log";
import type { Metrics } from "../metrics";
import { type Notifications, noticesOf } from "../notify/outbox";
import { canonicalJson } from "../store/canonical-json";
import type { Queryable } from "../store/db";
import {
  appendEvents,
  ConcurrencyError,
  destroySessionKey,
  GENESIS_HASH,
  initialStreamHeads,
  type StreamEntry,
  type StreamHeads,
} from "../store/event-log";
import type { Scheduler } from "../timers/scheduler";
import type { CacheEvictions } from "./evictions";
import type { Loaded, SessionRepository } from "./repository";

/** What a batch of clock ticks writes together, once, after appending every session's events (tickMany). */
interface DeferredWrites {
  summaries: Array<{ sessionId: string; state: SessionState; deadlines: ReturnType<typeof openDeadlines> }>;
  notices: ReturnType<typeof noticesOf>;
}

import type { StateCache } from "./state-cache";

type WithoutActor<C> = C extends unknown ? Omit<C, "actor" | "actorName"> : never;

/** What callers hand the pipeline: a client command, or a REST-only one; the actor is filled in here. */
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
  /** the notices the command stored for mail and push (the outbox), dispatched once it has committed */
  noticeIds: string[];
}

export interface Publisher {
  publish(committed: Committed): void;
}

export interface CommandPipelineDeps {
  repo: SessionRepository;
  cache: StateCache;
  /** with several nodes: tells every node to drop a session's cached state when its key is destroyed */
  evictions?: CacheEvictions;
  scheduler: Scheduler;
  publisher: Publisher;
  /** the notification outbox: notices are stored in the command's transaction and dispatched after it */
  notices?: Pick<Notifications, "record" | "dispatch">;
  metrics?: Metrics;
  log: Logger;
  random: Random;
  now: () => number;
}

/** Who a commit is for: the clock (no actor), or a member with its idempotency receipt. */
interface ReceiptInput {
  actorId: string | null;
  idempotencyKey: string | null;
  commandHash: string | null;
}
const CLOCK: ReceiptInput = { actorId: null, idempotencyKey: null, commandHash: null };

/** The key of a session's single deadline trigger (the scheduler keeps one trigger per session and key). */
export const NEXT_DEADLINE_TRIGGER = "next";
/** At most this many sessions' ticks share one transaction... */
export const TICK_BATCH_MAX = 100;
/** ...and a transaction stops taking sessions after this much work, so the event loop is never held for long. */
export const TICK_BATCH_BUDGET_MS = 40;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Work that must share the command's transaction (redeeming an invitation token, storing one). */
export type PrepareCommand = (q: Queryable) => Promise<ServiceCommand>;

export class CommandPipeline {
  private readonly inflight = new Set<Promise<unknown>>();
  /** Set during shutdown: deadline rows are committed and start-up reconciliation schedules them. */
  private schedulingStopped = false;

  constructor(private readonly deps: CommandPipelineDeps) {}

  /** Creates a session; the creator becomes its first member. */
  async create(
    actor: Actor,
    input: Omit<
      Extract<CommandInput, { type: "CreateSession" }>,
      "type" | "actor" | "actorName" | "sessionId"
    >,
  ): Promise<Committed> {
    const sessionId = randomUUID();
    // The engine resolves the rules (defaults, bounds) while it parses the command: once per create.
    const command: CommandInput = {
      type: "CreateSession",
      actor: actor.id,
      actorName: actor.name,
      sessionId,
      ...input,
    };
    const decision = decide(null, command, { now: this.deps.now(), random: this.deps.random });
    if (!decision.ok) throw new AppError(decision);
    const committed = await this.track(
      this.deps.repo.db.tx(async (q) => {
        const dataKey = await this.deps.repo.insertSession(q, sessionId, input.title, actor.id);
        const base = { state: null, chainHash: GENESIS_HASH, heads: initialStreamHeads(), dataKey };
        return this.commit(q, sessionId, base, decision.events, { ...CLOCK, actorId: actor.id });
      }),
    );
    this.afterCommit(committed);
    return committed;
  }

  /**
   * Runs one command for a session. `idempotencyKey` makes retries safe: the same key from the same user applies
   * once and later answers with the stream position it produced.
   */
  execute(
    sessionId: string,
    actor: Actor,
    command: ServiceCommand,
    idempotencyKey: string | null,
  ): Promise<Committed> {
    return this.run(sessionId, actor, { command }, idempotencyKey);
  }

  /** Runs the command `prepare` builds inside the command's own transaction, under the session's lock (no key). */
  executeWith(sessionId: string, actor: Actor, prepare: PrepareCommand): Promise<Committed> {
    return this.run(sessionId, actor, { prepare }, null);
  }

  private async run(
    sessionId: string,
    actor: Actor,
    input: { command: ServiceCommand } | { prepare: PrepareCommand },
    idempotencyKey: string | null,
  ): Promise<Committed> {
    const started = process.hrtime.bigint();
    let type = "command" in input ? input.command.type : "Unknown";
    let outcome = "INTERNAL";
    try {
      const { due, result } = await this.track(
        this.deps.repo.db.tx(async (q): Promise<{ due: Committed | null; result: Committed | AppError }> => {
          const loaded = await this.lockAndLoad(q, sessionId);
          if (!loaded) throw new AppError(errors.sessionNotFound());
          const commandHash =
            idempotencyKey && "command" in input ? hmacOf(loaded.dataKey, input.command) : null;
          if (idempotencyKey) {
            const duplicate = await this.priorReceipt(
              q,
              sessionId,
              actor,
              idempotencyKey,
              commandHash,
              loaded,
            );
            if (duplicate) return { due: null, result: duplicate };
          }
          // Deadlines that fell due before this command are applied first, in their own right: committed and
          // announced to everyone even when the command is then refused, so its sender never learns of a deal
          // (or any other outcome) through its refusal before the others hear of it.
          const now = this.deps.now();
          const tick = decide(loaded.state, { type: "Tick" }, { now, random: this.deps.random });
          const due =
            tick.ok && tick.events.length > 0
              ? await this.commit(q, sessionId, loaded, tick.events, CLOCK)
              : null;
          const base: Loaded = due
            ? { state: due.state, chainHash: due.chainHash, heads: due.heads, dataKey: due.dataKeyAfter }
            : loaded;
          if (due) await q.query("SAVEPOINT command");
          try {
            const command = "command" in input ? input.command : await input.prepare(q);
            type = command.type;
            if (command.type !== "JoinSession" && !base.state.members[actor.id])
              throw new AppError(errors.sessionNotFound());
            const full = toEngineCommand(command, actor);
            const decision = decide(base.state, full, { now, random: this.deps.random });
            if (!decision.ok) throw new AppError(decision);
            const result = await this.commit(q, sessionId, base, decision.events, {
              actorId: actor.id,
              idempotencyKey,
              commandHash,
            });
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

  /** The clock: applies the engine's idempotent tick. Safe to call any number of times. */
  async tick(sessionId: string): Promise<Committed | null> {
    let idle: SessionState | null = null;
    const committed = await this.track(
      this.deps.repo.db.tx(async (q) => {
        const loaded = await this.lockAndLoad(q, sessionId);
        if (!loaded) return null;
        const decision = decide(
          loaded.state,
          { type: "Tick" },
          { now: this.deps.now(), random: this.deps.random },
        );
        if (!decision.ok || decision.events.length === 0) {
          idle = loaded.state;
          return null;
        }
        return this.commit(q, sessionId, loaded, decision.events, CLOCK);
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

  /**
   * The clock for many sessions at once: each session's idempotent tick, many sessions to a transaction, so a burst of
   * deadlines costs a few statements per session and one commit per batch instead of a transaction each. A batch
   * locks its sessions in one statement, in id order (two batches on two nodes never deadlock), appends each one's
   * due events, then writes every session's deadlines, phase and notices in a few bulk statements. It takes sessions
   * until TICK_BATCH_MAX or TICK_BATCH_BUDGET_MS of work, commits, publishes and re-arms, and yields to the event loop
   * before the next batch, so the process keeps answering (health, sockets) during a burst. If a batch fails, its
   * sessions are ticked again one by one (tick), so one bad session never holds back the others; the returned map
   * holds the sessions that still failed, with their errors. Acknowledged means committed: only committed ticks are
   * published.
   */
  async tickMany(sessionIds: readonly string[]): Promise<Map<string, unknown>> {
    const failures = new Map<string, unknown>();
    const ordered = [...new Set(sessionIds)].sort();
    let next = 0;
    while (next < ordered.length) {
      const chunk = ordered.slice(next, next + TICK_BATCH_MAX);
      const committed: Committed[] = [];
      const idle: Array<[string, SessionState]> = [];
      let taken = 0;
      try {
        await this.track(
          this.deps.repo.db.tx(async (q) => {
            const started = performance.now();
            const locked = await this.deps.repo.lockMany(q, chunk);
            const deferred: DeferredWrites = { summaries: [], notices: [] };
            for (const sessionId of chunk) {
              taken++;
              const meta = locked.get(sessionId);
              const loaded = meta ? await this.loadLocked(q, sessionId, meta) : null;
              if (loaded) {
                const decision = decide(
                  loaded.state,
                  { type: "Tick" },
                  { now: this.deps.now(), random: this.deps.random },
                );
                if (decision.ok && decision.events.length > 0)
                  committed.push(await this.commit(q, sessionId, loaded, decision.events, CLOCK, deferred));
                else idle.push([sessionId, loaded.state]);
              }
              if (performance.now() - started >= TICK_BATCH_BUDGET_MS) break;
            }
            await this.deps.repo.saveSummaries(q, deferred.summaries);
            const noticeIds = (await this.deps.notices?.record(q, deferred.notices)) ?? [];
            // Dispatched once, with the batch's first commit (afterCommit dispatches a commit's noticeIds).
            const first = committed[0];
            if (first) first.noticeIds = noticeIds;
          }),
        );
      } catch (err) {
        // Nothing of this batch was stored: each of its sessions gets a transaction of its own.
        this.deps.log.warn(
          { err: errorText(err), sessions: Math.max(1, taken) },
          "tick batch failed, ticking alone",
        );
        const alone = chunk.slice(0, Math.max(1, taken));
        for (const sessionId of alone) {
          try {
            await this.tick(sessionId);
          } catch (err) {
            failures.set(sessionId, err);
          }
        }
        next += alone.length;
        await yieldToEventLoop();
        continue;
      }
      next += taken;
      for (const c of committed) {
        this.deps.log.debug(
          { sessionId: c.sessionId, version: c.version, events: c.events.map((e) => e.event.type) },
          "deadline applied",
        );
        this.afterCommit(c);
      }
      // Nothing was due: a trigger fired early (or raced a moved deadline). Re-arm the real next deadline.
      for (const [sessionId, state] of idle) this.ensureDeadlines(sessionId, state);
      await yieldToEventLoop();
    }
    return failures;
  }

  /**
   * At start-up, when Redis returns, and in the sweep: each session's next deadline stored in the database gets its
   * trigger (one query, one bulk ensure); overdue ones fire at once. Returns how many sessions were handed over.
   */
  async reconcileDeadlines(opts: { dueBefore?: number } = {}): Promise<number> {
    const next = await this.deps.repo.nextDeadlines(opts.dueBefore);
    if (next.length > 0)
      await this.deps.scheduler.ensure(
        next.map((d) => ({ sessionId: d.sessionId, key: NEXT_DEADLINE_TRIGGER, dueAt: d.dueAt })),
      );
    return next.length;
  }

  /** Shutdown: from now on deadlines are only stored, not handed to the scheduler (it is closing). */
  stopScheduling(): void {
    this.schedulingStopped = true;
  }

  /** Resolves once every command already running has committed or failed (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /**
   * Locks the session row and loads its state: from the cache when its version is the row's, else by replaying the
   * log. Only a state read under the lock is cached (an unlocked read may race a commit that destroys the key).
   */
  async lockAndLoad(q: Queryable, sessionId: string): Promise<Loaded | null> {
    const meta = await this.deps.repo.lock(q, sessionId);
    if (!meta) return null;
    return this.loadLocked(q, sessionId, meta);
  }

  /** Loads a session whose row the caller has locked (`meta` is what the lock read). */
  private async loadLocked(
    q: Queryable,
    sessionId: string,
    meta: NonNullable<Awaited<ReturnType<SessionRepository["lock"]>>>,
  ): Promise<Loaded | null> {
    const { dataKey, chainHash } = meta;
    const cached = this.deps.cache.peek(sessionId);
    if (cached && cached.version === meta.version && meta.streams)
      return { state: cached, chainHash, heads: meta.streams, dataKey };
    const state = await this.deps.repo.replay(q, sessionId, dataKey);
    if (!state) return null;
    this.deps.cache.put(sessionId, state);
    let heads = meta.streams;
    if (!heads) {
      heads = await this.deps.repo.numberStreams(q, sessionId, dataKey);
      this.deps.log.info({ sessionId }, "numbered the session's streams");
    }
    return { state, chainHash, heads, dataKey };
  }

  // ------------------------------------------------------------------ internals

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  /** A retry of a command already applied (same user, same key): its result again, or CONFLICT for another command. */
  private async priorReceipt(
    q: Queryable,
    sessionId: string,
    actor: Actor,
    idempotencyKey: string,
    commandHash: string | null,
    loaded: Loaded,
  ): Promise<Committed | null> {
    const receipt = await this.deps.repo.receipt(q, sessionId, actor.id, idempotencyKey);
    if (!receipt) return null;
    if (commandHash && receipt.commandHash && receipt.commandHash !== commandHash)
      throw new AppError(errors.idempotencyKeyReused());
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
      noticeIds: [],
    };
  }

  /** Appends `events` after `base` and writes everything that goes with them, in the caller's transaction. */
  private async commit(
    q: Queryable,
    sessionId: string,
    base: Omit<Loaded, "state"> & { state: SessionState | null },
    events: SessionEvent[],
    receipt: ReceiptInput,
    deferred?: DeferredWrites,
  ): Promise<Committed> {
    const { repo } = this.deps;
    const dataKey = base.dataKey;
    if (!dataKey) throw new AppError(errors.sessionEnded());
    // Each event goes to the streams of the roles that see it, judged on the session as it stands after the event.
    const states: SessionState[] = [];
    let state = base.state;
    for (const e of events) {
      state = evolve(state, e);
      states.push(state);
    }
    const toAppend = events.map((e, i) => ({
      type: e.type,
      at: e.at,
      actor: receipt.actorId,
      payload: payloadOf(e),
      streams: eventStreams(e, states[i] as SessionState),
    }));
    const expected = base.state?.version ?? 0;
    const stored = await appendEvents(
      q,
      sessionId,
      expected,
      base.chainHash,
      toAppend,
      dataKey,
      sealedFields,
      base.heads,
    );
    const heads: StreamHeads = structuredClone(base.heads);
    const versioned: Committed["events"] = [];
    for (const [i, event] of events.entries()) {
      const row = stored[i] as (typeof stored)[number];
      for (const entry of row.streams) heads[entry.stream] = { position: entry.position, head: entry.head };
      versioned.push({ version: row.version, chainHash: row.chainHash, event, streams: row.streams });
      if (event.type === "MemberJoined" || event.type === "SessionCreated") {
        const userId = event.type === "MemberJoined" ? event.userId : event.createdBy;
        const member = (states[i] as SessionState).members[userId];
        if (member) await repo.addMember(q, sessionId, userId, member.role, member.canBid);
      }
    }
    const after = states.at(-1) ?? (base.state as SessionState);
    // The database holds every deadline; the scheduler is only a trigger.
    if (deferred) deferred.summaries.push({ sessionId, state: after, deadlines: openDeadlines(after) });
    else await repo.saveSummary(q, sessionId, after, openDeadlines(after));
    const keyDestroyed = after.phase === "ended" && after.outcome !== "deal";
    // No deal: erase the key, and the numbers with it.
    if (keyDestroyed) await destroySessionKey(q, sessionId);
    const notices = noticesOf(
      sessionId,
      events.map((event, i) => ({ event, state: states[i] as SessionState })),
    );
    let noticeIds: string[] = [];
    if (deferred) deferred.notices.push(...notices);
    else noticeIds = (await this.deps.notices?.record(q, notices)) ?? [];
    const actorRole = receipt.actorId ? after.members[receipt.actorId]?.role : undefined;
    const actorPosition = actorRole ? heads[actorRole].position : null;
    if (receipt.idempotencyKey && receipt.actorId) {
      await repo.saveReceipt(q, sessionId, receipt.actorId, receipt.idempotencyKey, {
        version: after.version,
        commandHash: receipt.commandHash,
        position: actorPosition,
      });
    }
    return {
      sessionId,
      version: after.version,
      chainHash: stored.at(-1)?.chainHash ?? base.chainHash,
      events: versioned,
      state: after,
      heads,
      actorPosition,
      duplicate: false,
      dataKeyAfter: keyDestroyed ? null : dataKey,
      noticeIds,
    };
  }

  private afterCommit(committed: Committed): void {
    if (committed.duplicate || committed.events.length === 0) return;
    const { cache, evictions, publisher, log } = this.deps;
    // Cached only once committed, so a rolled-back transaction never leaves a phantom version behind.
    // A session that ended without a deal had its key destroyed: drop the plaintext copy too, on every node.
    if (committed.dataKeyAfter === null) {
      cache.delete(committed.sessionId);
      evictions?.announce(committed.sessionId);
    } else cache.put(committed.sessionId, committed.state);
    try {
      publisher.publish(committed);
    } catch (err) {
      log.error({ err: errorText(err), sessionId: committed.sessionId }, "publish failed");
    }
    this.ensureDeadlines(committed.sessionId, committed.state);
    // Mail and push go after the answer and the pushes have left: on the embedded database every notice's claim and
    // mark is a commit with its own fsync, which would otherwise run ahead of the command's own ack.
    const { notices } = this.deps;
    if (committed.noticeIds.length > 0 && notices)
      this.track(
        new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
          notices.dispatch(committed.noticeIds),
        ),
      );
  }

  /**
   * One trigger per session, at its next deadline: moved whenever that changes (a command, a tick), dropped when the
   * session has none left. The handler applies whatever is due and comes back here for the one after.
   */
  private ensureDeadlines(sessionId: string, state: SessionState): void {
    if (this.schedulingStopped) return;
    const next = nextDeadline(state);
    // A job left behind for a moved deadline is harmless: its handler re-reads the session and ticks.
    const scheduling = next
      ? this.deps.scheduler.ensure([{ sessionId, key: NEXT_DEADLINE_TRIGGER, dueAt: next.at }])
      : this.deps.scheduler.cancelSession(sessionId);
    this.track(
      scheduling.catch((err) => {
        // The deadline row is committed; the re-arm (start-up, Redis's return, the sweep) will schedule it.
        this.deps.log.error({ err: errorText(err), sessionId }, "scheduling failed");
      }),
    );
  }
}

/**
 * Fills in what only the server may decide: the actor and the ids of new things. A partial rules change goes to the
 * engine as sent: it resolves it against the session's rules while it parses the command.
 */
function toEngineCommand(command: ServiceCommand, actor: Actor): CommandInput {
  const full: Record<string, unknown> = { ...command, actor: actor.id, actorName: actor.name };
  const idField = (SERVER_FILLED_IDS as Record<string, string>)[command.type];
  if (idField) full[idField] = randomUUID();
  return full as unknown as CommandInput;
}

/**
 * What a receipt remembers of its command: an HMAC under the session's own key, never a plain hash (a command may
 * hold a number, and amounts are few enough to guess by hashing every candidate).
 */
function hmacOf(dataKey: Buffer | null, command: ServiceCommand): string | null {
  if (!dataKey) return null;
  return createHmac("sha256", dataKey).update(canonicalJson(command)).digest("hex");
}

function payloadOf(e: SessionEvent): Record<string, unknown> {
  const { type: _t, at: _a, ...rest } = e;
  return rest;
}
