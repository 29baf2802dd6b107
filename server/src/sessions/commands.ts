// The command pipeline: per command, lock the session row, load its state, apply the deadlines already due (committed
// even if the command is then refused), decide, stage the writes, commit; only after the commit publish and schedule.
// One path for REST, sockets and the clock. Commands and ticks that arrive together share one transaction (group
// commit: one lock statement, one write statement and one COMMIT/fsync for the batch), each answered only once that
// transaction has committed. Acknowledged means committed.
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
import type { Db, Queryable } from "../store/db";
import {
  ConcurrencyError,
  GENESIS_HASH,
  initialStreamHeads,
  type StreamEntry,
  type StreamHeads,
  stageAppend,
} from "../store/event-log";
import { GroupCommit, type GroupUnit, type UnitOutcome } from "../store/group-commit";
import type { Scheduler } from "../timers/scheduler";
import type { CacheEvictions } from "./evictions";
import {
  BatchWrites,
  type Loaded,
  type Receipt,
  type SessionRepository,
  type SessionWrite,
} from "./repository";
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
  /** whether the session's next deadline changed (its trigger must move); false for a retry */
  nextDeadlineMoved: boolean;
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
  notices?: Pick<Notifications, "stage" | "dispatch">;
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
/** At most this many units (commands, ticks) share one transaction... */
export const BATCH_MAX = 100;
/**
 * ...and a transaction stops taking units once staging them (deciding, sealing, hashing: the work the event loop does
 * for them) has taken this long, so the loop is never held for long. Only the staging counts: the database runs the
 * locks, the loads, the write and the commit off the loop (PostgreSQL in its server, PGlite in its own thread), and a
 * wait there, however long on a busy machine, is no reason to make the next batches smaller (it would make a burst
 * of deadlines ever slower: more batches, each waiting as long).
 */
export const BATCH_BUDGET_MS = 40;
/**
 * Batches in flight at once. The embedded database runs one transaction at a time anyway; PostgreSQL overlaps a couple.
 * (Two at once on PGlite, to stage one batch while its thread writes the other, was measured at 2,000 deadlines due
 * together: no gain, fired p99 2.26 -> 2.28 s, and the thread's busy time rose from ~50% to ~80% of the burst.)
 */
export function batchesAtOnce(db: Db["kind"]): number {
  return db === "pglite" ? 1 : 2;
}
/**
 * Deadline handlers a node runs at once, when each is a queue job (BullMQ): enough that in a burst every batch in
 * flight is full and a full one waits behind them, so the next batch starts full the moment one commits (a handler
 * waits for its tick's batch, and its job's slot is only refilled once that batch has committed and the job is
 * finished in Redis). With fewer, a burst ran in batches split between the slots: at 3,000 deadlines on PostgreSQL,
 * 64 at once gave a fired p99 of 2.52-2.54 s, 128 gave 2.45 s, 256 gave 1.80-1.86 s, and 300 gave 1.71 s
 * (docs/benchmarks.md). In process a waiting handler is only a promise: there the scheduler runs more.
 */
export function deadlineJobsAtOnce(db: Db["kind"]): number {
  return (batchesAtOnce(db) + 1) * BATCH_MAX;
}
/**
 * A committed batch's pushes go out in slices of this much work, with a loop turn between them. (Slices as long as a
 * batch's budget were tried once at 2,000 deadlines: fired p99 3.3 -> 4.7 s, received 4.4 -> 5.6 s; within this VM's
 * drift between runs, so not conclusive either way, and not kept.)
 */
export const PUBLISH_SLICE_MS = 10;

/** Work that must share the command's transaction (redeeming an invitation token, storing one). */
export type PrepareCommand = (q: Queryable) => Promise<ServiceCommand>;

/** What a unit finds when its batch runs: its session locked and loaded, and the batch's deferred writes. */
interface UnitContext {
  q: Queryable;
  /** null: no such session (or a new one, for create) */
  loaded: Loaded | null;
  /** the receipt the unit asked about, read with the lock */
  receipt: Receipt | null;
  /** whether the session's row was locked and its receipt read (false: trusted from this node's last commit) */
  locked: boolean;
  writes: BatchWrites;
  notices: Array<{ committed: Committed; rows: ReturnType<typeof noticesOf> }>;
}

/** What a unit leaves: the commits it staged (published once the batch commits) and its answer. */
interface UnitResult {
  committed: Committed[];
  /** a tick that found nothing due: its session's trigger is re-armed from this state */
  idle?: { sessionId: string; state: SessionState };
  answer: Committed | AppError | null;
}

/** One command, tick or creation, run in a batch by group commit. */
interface Unit extends GroupUnit {
  /** a tick: nobody waits for its answer */
  clock?: true;
  receipt?: { userId: string; key: string };
  work(ctx: UnitContext): Promise<UnitResult>;
}

export class CommandPipeline {
  private readonly inflight = new Set<Promise<unknown>>();
  /** Set during shutdown: deadline rows are committed and start-up reconciliation schedules them. */
  private schedulingStopped = false;
  /** Commands and ticks that arrive together share a transaction (store/group-commit.ts). */
  private readonly group: GroupCommit<Unit, UnitResult>;
  /** Ticks queued and not yet started: a second firing for the same session joins the first. */
  private readonly queuedTicks = new Map<string, Promise<Committed | null>>();
  /** Committed batches' pushes not yet sent, in commit order (sent in slices: see announceQueued). */
  private toAnnounce: Committed[] = [];
  /**
   * What this node last committed for each session (state, chain hash, stream heads, data key), as long as the state
   * cache still holds that very state: a unit of such a session skips the lock statement, because the batch's write
   * is guarded on the version and chain hash it expects (that UPDATE takes the row lock, and a session another node
   * moved meanwhile fails the batch, whose units are then run again with the lock). See trustedHeads.
   */
  private readonly lastCommitted = new Map<string, Loaded>();
  /** Sessions whose last batch failed: locked and read again before anything else is staged for them. */
  private readonly mustLock = new Set<string>();
  /**
   * Sessions another node also commits to (a batch that trusted this node's copy failed): locked for every command, not
   * trusted, until a locked batch finds the row where this node left it. Two sides of a mediation on two web nodes take
   * turns, and trusting each time would stage every command twice (a failed statement, then the locked run).
   */
  private readonly contended = new Set<string>();
  /** Whether queued pushes are being sent (announceQueued), and that run. */
  private announcing = false;
  private announced: Promise<void> = Promise.resolve();

  constructor(private readonly deps: CommandPipelineDeps) {
    this.group = new GroupCommit((units) => this.runBatch(units), {
      maxBatch: BATCH_MAX,
      concurrency: batchesAtOnce(deps.repo.db.kind),
    });
  }

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
    const { answer } = await this.group.submit({
      key: sessionId,
      work: async (ctx) => {
        const dataKey = await this.deps.repo.insertSession(ctx.q, sessionId, input.title, actor.id);
        const base = { state: null, chainHash: GENESIS_HASH, heads: initialStreamHeads(), dataKey };
        const created = this.stage(ctx, sessionId, base, decision.events, { ...CLOCK, actorId: actor.id });
        return { committed: [created], answer: created };
      },
    });
    return answer as Committed;
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
      const { answer } = await this.group.submit({
        key: sessionId,
        // `prepare` writes outside the batch's deferred writes (and is undone alone on a refusal): a batch of its own.
        alone: "prepare" in input,
        ...(idempotencyKey ? { receipt: { userId: actor.id, key: idempotencyKey } } : {}),
        work: async (ctx): Promise<UnitResult> => {
          const { loaded, q } = ctx;
          if (!loaded) throw new AppError(errors.sessionNotFound());
          const commandHash =
            idempotencyKey && "command" in input ? hmacOf(loaded.dataKey, input.command) : null;
          if (idempotencyKey) {
            const duplicate = this.priorReceipt(ctx.receipt, sessionId, actor, commandHash, loaded);
            if (duplicate) return { committed: [], answer: duplicate };
          }
          // Deadlines that fell due before this command are applied first, in their own right: committed and
          // announced to everyone even when the command is then refused, so its sender never learns of a deal
          // (or any other outcome) through its refusal before the others hear of it.
          const now = this.deps.now();
          const tick = decide(loaded.state, { type: "Tick" }, { now, random: this.deps.random });
          const due =
            tick.ok && tick.events.length > 0 ? this.stage(ctx, sessionId, loaded, tick.events, CLOCK) : null;
          const base: Loaded = due
            ? { state: due.state, chainHash: due.chainHash, heads: due.heads, dataKey: due.dataKeyAfter }
            : loaded;
          const committed = due ? [due] : [];
          if ("prepare" in input) await q.query("SAVEPOINT command");
          try {
            const command = "command" in input ? input.command : await input.prepare(q);
            type = command.type;
            if (command.type !== "JoinSession" && !base.state.members[actor.id])
              throw new AppError(errors.sessionNotFound());
            const full = toEngineCommand(command, actor);
            const decision = decide(base.state, full, { now, random: this.deps.random });
            if (!decision.ok) throw new AppError(decision);
            const result = this.stage(ctx, sessionId, base, decision.events, {
              actorId: actor.id,
              idempotencyKey,
              commandHash,
            });
            return { committed: [...committed, result], answer: result };
          } catch (err) {
            // What `prepare` wrote is undone with a refusal; the due deadlines (deferred writes) stand.
            if ("prepare" in input && err instanceof AppError) await q.query("ROLLBACK TO SAVEPOINT command");
            // Unlocked, a refusal proves nothing: only a write's guard shows the state it was decided on was
            // current (another node may have moved the session, and the receipt of a retried command was not read).
            // Undo what the unit staged; it runs again, locked, before anyone is refused.
            if (err instanceof AppError && !ctx.locked) {
              unstage(ctx, sessionId);
              throw new NeedsLock();
            }
            if (!due || !(err instanceof AppError)) throw err;
            return { committed, answer: err };
          }
        },
      });
      if (answer instanceof AppError) throw answer;
      const result = answer as Committed;
      outcome = "ok";
      // Ids, types and versions only: a command's payload is never logged.
      this.deps.log.debug(
        { sessionId, type, version: result.version, duplicate: result.duplicate },
        "command applied",
      );
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

  /**
   * The clock: applies the engine's idempotent tick. Safe to call any number of times; a firing for a session whose
   * tick is already queued joins it. Ticks that fire together share transactions with each other and with commands
   * (group commit), so a burst of deadlines costs a few rows per session and one commit per batch.
   */
  tick(sessionId: string): Promise<Committed | null> {
    const queued = this.queuedTicks.get(sessionId);
    if (queued) return queued;
    const ticking = this.group
      .submit({
        key: sessionId,
        clock: true,
        work: async (ctx): Promise<UnitResult> => {
          if (this.queuedTicks.get(sessionId) === ticking) this.queuedTicks.delete(sessionId);
          const { loaded } = ctx;
          if (!loaded) return { committed: [], answer: null };
          const decision = decide(
            loaded.state,
            { type: "Tick" },
            { now: this.deps.now(), random: this.deps.random },
          );
          // Nothing was due: a trigger fired early (or raced a moved deadline). Re-arm the real next deadline, read
          // under the lock (unlocked, "nothing due" may come from a copy another node has moved on from).
          if ((!decision.ok || decision.events.length === 0) && !ctx.locked) throw new NeedsLock();
          if (!decision.ok || decision.events.length === 0)
            return { committed: [], idle: { sessionId, state: loaded.state }, answer: null };
          const committed = this.stage(ctx, sessionId, loaded, decision.events, CLOCK);
          return { committed: [committed], answer: committed };
        },
      })
      .then((r) => r.answer as Committed | null)
      .finally(() => {
        if (this.queuedTicks.get(sessionId) === ticking) this.queuedTicks.delete(sessionId);
      });
    this.queuedTicks.set(sessionId, ticking);
    return ticking;
  }

  /**
   * Resolves once no command or tick is queued or running and every committed push has been sent: every node's notice
   * deliveries wait for this, so their work never stands in front of a command, a deadline or its pushes (on the event
   * loop, and on the embedded database's one connection). A burst's pushes go out in slices after their commits, while
   * the batches may already be idle.
   */
  async idle(): Promise<void> {
    await this.group.idle();
    // The queued pushes are sent by a run that starts a loop turn after their commit.
    while (this.announcing || this.toAnnounce.length > 0) {
      await (this.announcing ? this.announced : new Promise<void>((resolve) => setImmediate(resolve)));
      await this.group.idle();
    }
  }

  /**
   * One batch, one transaction: lock every unit's session in one statement (in id order, so two batches on two nodes
   * never deadlock), load their states (cache, else one replay query for all misses), run the units in order until
   * BATCH_MAX or BATCH_BUDGET_MS of work (the rest wait for the next batch), then write everything they staged in one
   * statement and commit. Only then is anything published or scheduled: acknowledged means committed.
   */
  private async runBatch(units: readonly Unit[]): Promise<Array<UnitOutcome<UnitResult>>> {
    const outcomes: Array<UnitOutcome<UnitResult>> = units.map(() => ({ deferred: true }));
    const { repo } = this.deps;
    let ranUnlocked = false;
    const lockedNow: string[] = [];
    // Sessions this node committed last need no lock statement (see lastCommitted); the others are locked in one.
    const trusted = new Map<string, Loaded>();
    for (const u of units) {
      const heads = this.trustedHeads(u.key);
      if (heads) trusted.set(u.key, heads);
    }
    const toLock = units.filter((u) => !trusted.has(u.key));
    ranUnlocked = trusted.size > 0;
    for (const u of toLock) lockedNow.push(u.key);
    // With nothing to lock, and no unit writing outside the batch's deferred writes (`prepare`), the batch's one write
    // statement is all it sends: it stores everything or nothing on its own (its guard fails it whole), so it runs
    // without BEGIN and COMMIT, as one round trip and one commit.
    const oneStatement = toLock.length === 0 && !units.some((u) => u.alone);
    const body = async (q: Queryable) => {
      const locked =
        toLock.length === 0
          ? new Map()
          : await repo.lockBatch(
              q,
              toLock.map((u) => ({ sessionId: u.key, ...(u.receipt ? { receipt: u.receipt } : {}) })),
            );
      // Nobody else committed since this node did: its copy may be trusted again from the next command on.
      for (const [sessionId, meta] of locked)
        if (
          this.contended.has(sessionId) &&
          this.lastCommitted.get(sessionId)?.state.version === meta.version
        )
          this.contended.delete(sessionId);
      const loaded = await this.loadMany(q, locked);
      for (const [sessionId, heads] of trusted) loaded.set(sessionId, heads);
      const ctx = { q, writes: new BatchWrites(), notices: [] as UnitContext["notices"] };
      const staging = performance.now();
      for (const [i, unit] of units.entries()) {
        if (i > 0 && performance.now() - staging >= BATCH_BUDGET_MS) break;
        try {
          const value = await unit.work({
            ...ctx,
            loaded: loaded.get(unit.key) ?? null,
            receipt: locked.get(unit.key)?.receipt ?? null,
            locked: !trusted.has(unit.key),
          });
          outcomes[i] = { ok: true, value };
        } catch (err) {
          if (err instanceof NeedsLock) {
            // Back to the queue's front, for the next batch, which locks it.
            this.mustLock.add(unit.key);
            continue;
          }
          // A refusal stages nothing; anything else fails the batch (each unit is then run again alone).
          if (!(err instanceof AppError)) throw err;
          outcomes[i] = { ok: false, error: err };
        }
      }
      // The notices go into the same statement, with ids made here.
      await repo.writeBatch(q, ctx.writes, (stmt) => {
        const { notices } = this.deps;
        if (!notices) return;
        // A commit's rows are one group: one trigger.
        const ids = notices.stage(
          stmt,
          ctx.notices.map((n) => n.rows),
        );
        ctx.notices.forEach((n, i) => {
          n.committed.noticeIds = ids[i] ?? [];
        });
      });
    };
    const batch = this.track(oneStatement ? body(repo.db) : repo.db.tx(body));
    try {
      await batch;
    } catch (err) {
      // Nothing of the batch was stored. Every session of it is locked from now on until a locked batch commits: a
      // session taken without the lock may have been moved by another node (or a retried command met its receipt),
      // so such a batch runs once more, all locked, before group commit would run its units one by one.
      for (const u of units) {
        this.mustLock.add(u.key);
        if (trusted.has(u.key)) this.contend(u.key);
        this.lastCommitted.delete(u.key);
      }
      if (ranUnlocked) return this.runBatch(units);
      throw err;
    }
    for (const key of lockedNow) this.mustLock.delete(key);
    const committed = outcomes.flatMap((o) => ("ok" in o && o.ok ? o.value.committed : []));
    const idle = outcomes.flatMap((o) => ("ok" in o && o.ok && o.value.idle ? [o.value.idle] : []));
    // The next batch must find the committed states in the cache: at once.
    for (const c of committed) this.remember(c);
    // The pushes, notices and triggers go after the answers: a sender's ack may leave before the pushes of its own
    // command (on a busy node the pushes cost as much as the commit). Never before anything else, though: when a
    // command's unit applied the clock's events (a due deadline) or ended a session, everyone hears that first, so no
    // sender learns of a deal or a closed step from its own answer (a refusal, a jump in its stream position) before
    // the others do. A tick's unit has nobody waiting: its pushes take their turn with the rest.
    const first = outcomes.flatMap((o, i) =>
      "ok" in o && o.ok && !units[i]?.clock
        ? o.value.committed.filter(
            (c) => c.events.length > 0 && (c.actorPosition === null || c.state.phase === "ended"),
          )
        : [],
    );
    for (const c of first) this.announceNow(c);
    const later = new Set(first);
    this.toAnnounce.push(...committed.filter((c) => !later.has(c)));
    // Only where the next deadline moved (a Step 3 number leaves it where it was): the trigger is already there, and
    // a lost one is re-armed by the sweep and when Redis returns.
    const moved = [...committed.filter((c) => c.nextDeadlineMoved), ...idle];
    this.track(
      new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        this.ensureDeadlines(moved);
        return this.announceQueued();
      }),
    );
    return outcomes;
  }

  /** Announces one commit at once, after whatever of its session is still queued (a session's pushes keep order). */
  private announceNow(committed: Committed): void {
    for (let i = 0; i < this.toAnnounce.length; ) {
      const queued = this.toAnnounce[i] as Committed;
      if (queued.sessionId === committed.sessionId) {
        this.toAnnounce.splice(i, 1);
        this.announce(queued);
      } else i++;
    }
    this.announce(committed);
  }

  /**
   * Sends the queued pushes in commit order, PUBLISH_SLICE_MS of work at a time with a loop turn between slices, so
   * a burst of deadlines (thousands of sessions, each a few pushes) never holds sockets and health checks for long.
   */
  private announceQueued(): Promise<void> {
    if (this.announcing) return this.announced;
    this.announcing = true;
    this.announced = this.sendQueued();
    return this.announced;
  }

  private async sendQueued(): Promise<void> {
    try {
      while (this.toAnnounce.length > 0) {
        const sliceStarted = performance.now();
        // Taken a slice at a time (announceNow may pick a session's commits out of the rest meanwhile).
        let sent = 0;
        while (sent < this.toAnnounce.length && performance.now() - sliceStarted < PUBLISH_SLICE_MS)
          this.announce(this.toAnnounce[sent++] as Committed);
        this.toAnnounce = this.toAnnounce.slice(sent);
        if (this.toAnnounce.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      // At once, as the loop ends: a commit queued from here on starts a run of its own.
      this.announcing = false;
    }
  }

  /** Marks a session contended (see `contended`): never more of them than the cache holds, the oldest dropped first. */
  private contend(sessionId: string): void {
    this.contended.delete(sessionId);
    this.contended.add(sessionId);
    if (this.contended.size > this.deps.cache.capacity) {
      const oldest = this.contended.values().next().value;
      if (oldest !== undefined) this.contended.delete(oldest);
    }
  }

  /** The session as this node last committed it, when nothing since says to lock it (see lastCommitted). */
  private trustedHeads(sessionId: string): Loaded | undefined {
    if (this.mustLock.has(sessionId) || this.contended.has(sessionId)) return undefined;
    const last = this.lastCommitted.get(sessionId);
    // The very state object this node cached at its commit: a replay or another node's eviction replaced or dropped it.
    if (!last || this.deps.cache.peek(sessionId) !== last.state) return undefined;
    return last;
  }

  /** States for a batch's locked sessions: cached ones as they are, the others replayed together. */
  private async loadMany(
    q: Queryable,
    locked: Awaited<ReturnType<SessionRepository["lockBatch"]>>,
  ): Promise<Map<string, Loaded>> {
    const loaded = new Map<string, Loaded>();
    const misses: Array<{ sessionId: string; dataKey: Buffer | null; from?: SessionState }> = [];
    for (const [sessionId, meta] of locked) {
      const cached = this.deps.cache.peek(sessionId);
      if (cached && cached.version === meta.version && meta.streams)
        loaded.set(sessionId, {
          state: cached,
          chainHash: meta.chainHash,
          heads: meta.streams,
          dataKey: meta.dataKey,
        });
      // Behind the row (another node committed since): caught up from the cached state by the events after it, as
      // long as the key that opens them is still there (a destroyed key reads every amount as null: replayed whole).
      else if (cached && cached.version < meta.version && meta.dataKey !== null)
        misses.push({ sessionId, dataKey: meta.dataKey, from: cached });
      else misses.push({ sessionId, dataKey: meta.dataKey });
    }
    const replayed = await this.deps.repo.replayMany(q, misses);
    for (const { sessionId, dataKey } of misses) {
      const state = replayed.get(sessionId);
      const meta = locked.get(sessionId);
      if (!state || !meta) continue;
      this.deps.cache.put(sessionId, state);
      loaded.set(sessionId, {
        state,
        chainHash: meta.chainHash,
        heads: meta.streams ?? (await this.numberStreams(q, sessionId, dataKey)),
        dataKey,
      });
    }
    return loaded;
  }

  private async numberStreams(q: Queryable, sessionId: string, dataKey: Buffer | null): Promise<StreamHeads> {
    const heads = await this.deps.repo.numberStreams(q, sessionId, dataKey);
    this.deps.log.info({ sessionId }, "numbered the session's streams");
    return heads;
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
    await this.group.idle();
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /**
   * Locks the session row and loads its state: from the cache when its version is the row's, else by replaying the
   * log. Only a state read under the lock is cached (an unlocked read may race a commit that destroys the key).
   */
  async lockAndLoad(q: Queryable, sessionId: string): Promise<Loaded | null> {
    const locked = await this.deps.repo.lockBatch(q, [{ sessionId }]);
    return (await this.loadMany(q, locked)).get(sessionId) ?? null;
  }

  // ------------------------------------------------------------------ internals

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  /** A retry of a command already applied (same user, same key): its result again, or CONFLICT for another command. */
  private priorReceipt(
    receipt: Receipt | null,
    sessionId: string,
    actor: Actor,
    commandHash: string | null,
    loaded: Loaded,
  ): Committed | null {
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
      nextDeadlineMoved: false,
    };
  }

  /**
   * Stages `events` after `base` and everything that goes with them (session row, deadlines, members, receipt,
   * notices) in the batch's deferred writes; nothing is written until the batch ends. Pure but for that.
   */
  private stage(
    ctx: Pick<UnitContext, "writes" | "notices">,
    sessionId: string,
    base: Omit<Loaded, "state"> & { state: SessionState | null },
    events: SessionEvent[],
    receipt: ReceiptInput,
  ): Committed {
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
    const append = stageAppend(
      sessionId,
      base.state?.version ?? 0,
      base.chainHash,
      toAppend,
      dataKey,
      sealedFields,
      base.heads,
    );
    const after = states.at(-1) ?? (base.state as SessionState);
    // No deal: erase the key, and the numbers with it.
    const keyDestroyed = after.phase === "ended" && after.outcome !== "deal";
    append.row = { phase: after.phase, title: after.title, destroyKey: keyDestroyed };
    const members: SessionWrite["members"] = [];
    const versioned: Committed["events"] = [];
    for (const [i, event] of events.entries()) {
      const row = append.stored[i] as (typeof append.stored)[number];
      versioned.push({ version: row.version, chainHash: row.chainHash, event, streams: row.streams });
      if (event.type === "MemberJoined" || event.type === "SessionCreated") {
        const userId = event.type === "MemberJoined" ? event.userId : event.createdBy;
        const member = (states[i] as SessionState).members[userId];
        if (member) members.push({ userId, role: member.role, canBid: member.canBid });
      }
    }
    const actorRole = receipt.actorId ? after.members[receipt.actorId]?.role : undefined;
    const actorPosition = actorRole ? append.heads[actorRole].position : null;
    // The database holds every deadline; a session's rows are rewritten only when they changed.
    const deadlines = openDeadlines(after);
    const deadlinesBefore = base.state ? openDeadlines(base.state) : [];
    ctx.writes.add({
      append,
      ...(canonicalJson(deadlines) === canonicalJson(deadlinesBefore) ? {} : { deadlines }),
      receipts:
        receipt.idempotencyKey && receipt.actorId
          ? [
              {
                userId: receipt.actorId,
                key: receipt.idempotencyKey,
                version: after.version,
                commandHash: receipt.commandHash,
                position: actorPosition,
              },
            ]
          : [],
      members,
    });
    const committed: Committed = {
      sessionId,
      version: after.version,
      chainHash: append.chainHash,
      events: versioned,
      state: after,
      heads: append.heads,
      actorPosition,
      duplicate: false,
      dataKeyAfter: keyDestroyed ? null : dataKey,
      noticeIds: [],
      nextDeadlineMoved:
        canonicalJson(nextDeadline(after) ?? null) !==
        canonicalJson((base.state && nextDeadline(base.state)) ?? null),
    };
    const rows = noticesOf(
      sessionId,
      events.map((event, i) => ({ event, state: states[i] as SessionState })),
    );
    if (rows.length > 0) ctx.notices.push({ committed, rows });
    return committed;
  }

  /** Once committed: the state cache takes the new state (or drops it, on every node, when the numbers were shredded). */
  private remember(committed: Committed): void {
    if (committed.duplicate || committed.events.length === 0) return;
    const { cache, evictions } = this.deps;
    // Cached only once committed, so a rolled-back transaction never leaves a phantom version behind.
    this.lastCommitted.delete(committed.sessionId);
    if (committed.dataKeyAfter === null) {
      cache.delete(committed.sessionId);
      evictions?.announce(committed.sessionId);
      return;
    }
    cache.put(committed.sessionId, committed.state);
    this.lastCommitted.set(committed.sessionId, {
      state: committed.state,
      chainHash: committed.chainHash,
      heads: committed.heads,
      dataKey: committed.dataKeyAfter,
    });
    // Never more than the cache holds (an entry whose state the cache dropped is no use).
    if (this.lastCommitted.size > cache.capacity) {
      const oldest = this.lastCommitted.keys().next().value;
      if (oldest !== undefined) this.lastCommitted.delete(oldest);
    }
  }

  /** Once committed: pushes to the rooms, then the notices' triggers. */
  private announce(committed: Committed): void {
    if (committed.duplicate || committed.events.length === 0) return;
    const { publisher, log } = this.deps;
    if (committed.actorPosition === null)
      log.debug(
        {
          sessionId: committed.sessionId,
          version: committed.version,
          events: committed.events.map((e) => e.event.type),
        },
        "deadline applied",
      );
    try {
      publisher.publish(committed);
    } catch (err) {
      log.error({ err: errorText(err), sessionId: committed.sessionId }, "publish failed");
    }
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
   * session ends; a batch's sessions in one call. The handler applies whatever is due and comes back here.
   */
  private ensureDeadlines(sessions: ReadonlyArray<{ sessionId: string; state: SessionState }>): void {
    if (this.schedulingStopped || sessions.length === 0) return;
    const ensure: Array<{ sessionId: string; key: string; dueAt: number }> = [];
    const scheduling: Array<Promise<unknown>> = [];
    for (const { sessionId, state } of sessions) {
      const next = nextDeadline(state);
      // A job left behind for a moved deadline is harmless: its handler re-reads the session and ticks.
      if (next) ensure.push({ sessionId, key: NEXT_DEADLINE_TRIGGER, dueAt: next.at });
      // Only the end withdraws a session's trigger: an ended session never has a deadline again, so no commit on
      // another node can have armed one since that this would remove (the calls reach Redis in any order). A session
      // left without a deadline before its end (a start that is no longer ready) keeps its trigger: it fires and
      // finds nothing due.
      else if (state.phase === "ended") scheduling.push(this.deps.scheduler.cancelSession(sessionId));
    }
    if (ensure.length > 0) scheduling.push(this.deps.scheduler.ensure(ensure));
    for (const p of scheduling)
      this.track(
        p.catch((err) => {
          // The deadline row is committed; the re-arm (start-up, Redis's return, the sweep) will schedule it.
          this.deps.log.error({ err: errorText(err), sessions: sessions.length }, "scheduling failed");
        }),
      );
  }
}

/**
 * A unit that ran without its session's lock and must run again with it (see UnitContext.locked): without the lock
 * only a unit that writes may be decided, since only the write's guard proves the state it was decided on current.
 */
class NeedsLock extends Error {}

/** Takes back what a unit staged in its batch (a batch holds at most one unit per session). */
function unstage(ctx: Pick<UnitContext, "writes" | "notices">, sessionId: string): void {
  ctx.writes.sessions.delete(sessionId);
  for (let i = ctx.notices.length - 1; i >= 0; i--)
    if (ctx.notices[i]?.committed.sessionId === sessionId) ctx.notices.splice(i, 1);
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
