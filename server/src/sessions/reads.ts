// The read side: what a member may see of a session, always through visibility (common/src/visibility.ts), with its
// role's stream position and the signed head there. Nothing here writes, and nothing here fills the state cache:
// only a state read under the row lock goes in (commands.ts); a stale entry found here is dropped.
import {
  type DashboardEntry,
  dashboardEntry,
  errors,
  type OwnNumberView,
  ownNumberView,
  projectEvent,
  type Role,
  type SessionState,
  type Side,
  type Viewer,
  viewState,
} from "@backchannel/common";
import { AppError } from "../errors";
import type { StreamHeads } from "../store/event-log";
import type { HeadSigner, SignedHead } from "../store/signing";
import type { Committed } from "./commands";
import type { SessionRepository } from "./repository";
import type { StateCache } from "./state-cache";

export interface SessionReadsDeps {
  repo: SessionRepository;
  cache: StateCache;
  signer: HeadSigner;
  /** numbers a legacy session's streams under its lock (the pipeline's), the first time it is read */
  lockAndNumber: (sessionId: string) => Promise<StreamHeads | null>;
  /** beyond this many missed events a sync answers with a snapshot */
  syncEventLimit: number;
  now: () => number;
}

export type OwnNumberHistory = Array<{ amount: number | null; at: number; by: string; step: 2 | 3 }>;

export class SessionReads {
  constructor(private readonly deps: SessionReadsDeps) {}

  /** Current state (with plaintext numbers: callers must pass it through visibility before it leaves). */
  async read(sessionId: string): Promise<SessionState | null> {
    return (await this.readWithHeads(sessionId))?.state ?? null;
  }

  /** The caller's role in a session, or null when it is not a member (or there is no such session). */
  async viewerOf(sessionId: string, userId: string): Promise<Viewer | null> {
    const role = await this.deps.repo.roleOf(sessionId, userId);
    return role ? { userId, role } : null;
  }

  /** The caller's role in a session; SESSION_NOT_FOUND for a non-member, as for a session that does not exist. */
  async memberOf(sessionId: string, userId: string): Promise<Viewer> {
    const viewer = await this.viewerOf(sessionId, userId);
    if (!viewer) throw new AppError(errors.sessionNotFound());
    return viewer;
  }

  listForUser(userId: string) {
    return this.deps.repo.listForUser(userId);
  }

  /**
   * A member's line of the home page (common/src/dashboard.ts), from its own view of the session only; null when
   * the session cannot be read. `online`: who has it open, when the caller knows (the socket gateway does).
   */
  async dashboardEntry(
    sessionId: string,
    viewer: Viewer,
    online?: Array<{ userId: string; role: Role }>,
  ): Promise<DashboardEntry | null> {
    const found = await this.readWithHeads(sessionId);
    if (!found) return null;
    const now = this.deps.now();
    const view = viewState(found.state, viewer, now, found.heads[viewer.role].position);
    return dashboardEntry(view, now, online);
  }

  /** Every session of a user as home-page lines, newest first (GET /api/sessions). */
  async dashboard(userId: string): Promise<DashboardEntry[]> {
    const entries: DashboardEntry[] = [];
    for (const s of await this.deps.repo.listForUser(userId)) {
      const entry = await this.dashboardEntry(s.id, { userId, role: s.role });
      if (entry) entries.push(entry);
    }
    return entries;
  }

  /** A member's snapshot: the view, its stream position, and the signed head at that position. */
  async viewFor(sessionId: string, viewer: Viewer) {
    const found = await this.readWithHeads(sessionId);
    if (!found) throw new AppError(errors.sessionNotFound());
    return this.present(sessionId, found.state, found.heads, viewer);
  }

  /** The view and signed head of a state the caller already holds (a command's result). */
  present(sessionId: string, state: SessionState, heads: StreamHeads, viewer: Viewer) {
    const { position, head } = heads[viewer.role];
    return {
      version: position,
      view: viewState(state, viewer, this.deps.now(), position),
      head: this.signHead(sessionId, viewer.role, position, head),
    };
  }

  /**
   * The one answer to a command, for the socket and REST alike: the sender's stream position after it, and for
   * SetNumber the sender's side's number (its own echo; fetching it otherwise is ownNumber's job).
   */
  ackFor(committed: Committed, userId: string, commandType: string) {
    const member = committed.state.members[userId];
    if (!member || committed.actorPosition === null) throw new AppError(errors.sessionNotFound());
    const version = committed.actorPosition;
    if (commandType !== "SetNumber") return { ok: true as const, version };
    const own = ownNumberOf(committed.state, { userId, role: member.role }, this.deps.now());
    return own ? { ok: true as const, version, own } : { ok: true as const, version };
  }

  /**
   * The one way to fetch a side's own number (GET /api/sessions/:id/number): the number as the side sees it, with
   * every number the side has had. Only the side's BidSet events are opened for the history. Mediators: WRONG_ROLE.
   */
  async ownNumber(sessionId: string, viewer: Viewer) {
    if (viewer.role === "mediator")
      throw new AppError(errors.wrongRole("Mediators never see a side's number."));
    const found = await this.readWithHeads(sessionId);
    if (!found) throw new AppError(errors.sessionNotFound());
    const version = found.heads[viewer.role].position;
    const own = ownNumberOf(found.state, viewer, this.deps.now());
    if (!own) return { version, own: null };
    return { version, own: { ...own, history: await this.numberHistory(sessionId, own.side) } };
  }

  /**
   * What a member missed since position `sinceVersion` of its role's stream, as that member may see it (a direct
   * reply: its own side's numbers may be in it). Too far behind, or ahead of the stream, answers with a fresh
   * snapshot instead. Every answer carries the signed head of the position it brings the member to.
   */
  async syncFor(sessionId: string, viewer: Viewer, sinceVersion: number) {
    const found = await this.readWithHeads(sessionId);
    if (!found) throw new AppError(errors.sessionNotFound());
    const { state, heads } = found;
    const current = heads[viewer.role];
    if (sinceVersion > current.position || current.position - sinceVersion > this.deps.syncEventLimit) {
      const { version, view, head } = this.present(sessionId, state, heads, viewer);
      return { ok: true as const, version, snapshot: view, head };
    }
    const stored = await this.deps.repo.streamEvents(
      sessionId,
      viewer.role,
      sinceVersion,
      this.deps.syncEventLimit,
    );
    const events = [];
    let last = { position: sinceVersion, head: "" };
    for (const { entry, event } of stored) {
      const visible = projectEvent(event, viewer, state);
      // Stored positions and visibility agree by construction; if they ever did not, sending nothing is safe.
      if (!visible) continue;
      events.push({ version: entry.position, event: visible });
      last = { position: entry.position, head: entry.head };
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

  /** One role's stream, stored form (audit export). */
  readStoredStream(sessionId: string, role: Role) {
    return this.deps.repo.storedStream(sessionId, role);
  }

  signHead(sessionId: string, stream: Role, position: number, head: string): SignedHead {
    return this.deps.signer.sign({ sessionId, stream, position, head });
  }

  // ------------------------------------------------------------------ internals

  /** Every number a side has had (RULES: own number and its history); shredded amounts read as null. */
  private async numberHistory(sessionId: string, side: Side): Promise<OwnNumberHistory> {
    const bids = await this.deps.repo.sideBids(sessionId, side);
    return bids.map((e) => ({ amount: e.amount, at: e.at, by: e.by, step: e.step }));
  }

  /** Current state and every stream's position and head. */
  private async readWithHeads(
    sessionId: string,
  ): Promise<{ state: SessionState; heads: StreamHeads } | null> {
    const found = await this.deps.repo.head(sessionId);
    if (!found) return null;
    // A session stored before streams existed is numbered once, under its lock.
    const heads = found.heads ?? (await this.deps.lockAndNumber(sessionId));
    if (!heads) return null;
    const { cache, repo } = this.deps;
    const cached = cache.peek(sessionId);
    if (cached && cached.version === found.version) return { state: cached, heads };
    // A stale entry holds plaintext the session may no longer allow (a key destroyed elsewhere): drop it.
    if (cached) cache.delete(sessionId);
    // Rebuilt without the lock, so never cached: it may race a commit that destroys the key.
    const state = await repo.replayUnlocked(sessionId);
    return state ? { state, heads } : null;
  }
}

/** A side's own number as its members see it (the snapshot's `numbers.own`), or null for a mediator. */
function ownNumberOf(state: SessionState, viewer: Viewer, now: number): OwnNumberView | null {
  return viewer.role === "mediator" ? null : ownNumberView(state, viewer.role, now);
}
