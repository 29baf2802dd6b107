// The sessions module, composed: a repository (SQL, repository.ts), the command pipeline (lock, load, apply due
// deadlines, decide, append, commit, publish, schedule: commands.ts) and the read side (views, sync, own number,
// acks: reads.ts), over one state cache that every node empties of a session whose key is destroyed.
import type { Db } from "../store/db";
import type { HeadSigner } from "../store/signing";
import { CommandPipeline, type CommandPipelineDeps } from "./commands";
import { SessionReads } from "./reads";
import { SessionRepository } from "./repository";
import { StateCache } from "./state-cache";

export type { Actor, Committed, Publisher, ServiceCommand } from "./commands";

/** Beyond this many missed events a sync answers with a fresh snapshot instead of the events. */
const SYNC_EVENT_LIMIT = 500;

/**
 * How many committed session states a node keeps in memory, unless told (STATE_CACHE_SESSIONS). Past it a command or
 * a deadline replays the session's whole log: the bench measured CPU per command 4.0 -> 5.9-8.8 ms at 1,000 live
 * sessions with 500, and a burst of 10,000 deadlines replayed the 8,000 sessions a cache of 2,000 had dropped. A
 * state is a few KiB to tens of KiB (long terms, many messages), so 10,000 cost tens to a few hundred MiB.
 */
const CACHED_STATES = 10_000;

/** The pipeline's parts (scheduler, publisher, evictions, log, metrics, random) and what the module builds on. */
export interface SessionServiceDeps extends Omit<CommandPipelineDeps, "repo" | "cache" | "now"> {
  db: Db;
  masterKey: Buffer;
  /** signs the stream heads parties receive */
  signer: HeadSigner;
  now?: () => number;
  /** session states kept in memory (default CACHED_STATES) */
  cachedStates?: number;
}

export class SessionService {
  /** every write: create, execute, tick, and the deadlines' reconciliation */
  readonly commands: CommandPipeline;
  /** every read a member may make, through visibility */
  readonly reads: SessionReads;
  private readonly cache: StateCache;

  constructor(deps: SessionServiceDeps) {
    this.cache = new StateCache(deps.cachedStates ?? CACHED_STATES);
    const now = deps.now ?? Date.now;
    const repo = new SessionRepository(deps.db, deps.masterKey);
    deps.evictions?.onEvict((sessionId) => this.cache.delete(sessionId));
    this.commands = new CommandPipeline({ ...deps, repo, cache: this.cache, now });
    this.reads = new SessionReads({
      repo,
      cache: this.cache,
      signer: deps.signer,
      now,
      syncEventLimit: SYNC_EVENT_LIMIT,
      lockAndNumber: async (sessionId) =>
        (await deps.db.tx((q) => this.commands.lockAndLoad(q, sessionId)))?.heads ?? null,
    });
  }

  /** Whether this node holds a session's state in memory (tests check that shredding reached every node). */
  holdsState(sessionId: string): boolean {
    return this.cache.has(sessionId);
  }
}
