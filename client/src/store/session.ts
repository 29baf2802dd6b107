// The open session: a zustand store of its redacted view, plus the controller that keeps it current over one
// socket. Pushes apply in version order; a gap or a reconnect triggers `sync`; commands carry one idempotency
// key per user action, reused on every retry, so a retried action happens once.
import type {
  ClientCommandInput,
  ClientToServerEvents,
  OwnNumberView,
  PresencePush,
  Role,
  SessionEventPush,
  SessionView,
  SignedHeadWire,
} from "@backchannel/common";
import { createStore, type StoreApi } from "zustand/vanilla";
import type { UserError } from "../api";
import {
  applySync,
  createSessionData,
  followUpFor,
  type LoggedEvent,
  receivePush,
  type SessionData,
  withOwnNumber,
} from "../session/reduce";

type AckOf<E extends keyof ClientToServerEvents> = Parameters<Parameters<ClientToServerEvents[E]>[1]>[0];
type PayloadOf<E extends keyof ClientToServerEvents> = Parameters<ClientToServerEvents[E]>[0];

export interface TransportHandlers {
  push(push: SessionEventPush): void;
  presence(push: PresencePush): void;
  /** connected or not; `reconnect` is true when a connection came back after an earlier one */
  connection(connected: boolean, reconnect: boolean): void;
  authExpired(): void;
}

/** What the controller needs of a socket; the real one is src/socket.ts, tests use a fake. */
export interface Transport {
  /** Emits with an ack; rejects with `{ code: "TIMEOUT" }` when no ack comes in time. */
  request<E extends keyof ClientToServerEvents>(
    event: E,
    payload: PayloadOf<E>,
    timeoutMs: number,
  ): Promise<AckOf<E>>;
  subscribe(handlers: TransportHandlers): () => void;
  isConnected(): boolean;
}

export interface PresenceEntry {
  userId: string;
  role: Role;
}

export interface SessionStoreState {
  sessionId: string | null;
  status: "idle" | "loading" | "ready" | "error";
  error: UserError | null;
  data: SessionData | null;
  presence: PresenceEntry[];
  connection: "connecting" | "online" | "reconnecting";
}

/** How events reached the page: one by one as they happened, or in a batch after the page was away. */
export type ArrivalHow = "live" | "catch-up";

export type CommandResult = { ok: true; version: number } | ({ ok: false } & UserError);

export const INITIAL_SESSION_STATE: SessionStoreState = {
  sessionId: null,
  status: "idle",
  error: null,
  data: null,
  presence: [],
  connection: "connecting",
};

export function createSessionStore(): StoreApi<SessionStoreState> {
  return createStore<SessionStoreState>()(() => ({ ...INITIAL_SESSION_STATE }));
}

export interface ControllerDeps {
  transport: Transport;
  store: StoreApi<SessionStoreState>;
  /** GET /api/sessions/:id/number */
  fetchOwnNumber(sessionId: string): Promise<OwnNumberView | null>;
  onAuthExpired(): void;
  /** keeps a signed stream head the server sent (the party's own record for audit:verify) */
  saveHead?: (head: SignedHeadWire) => void;
  /**
   * Events that arrived after the session was open, once applied (`view` is the view with them): "live" for a
   * push (or the sync that filled a gap in the pushes), "catch-up" for what a sync brought after a reconnect.
   * The opening snapshot and what it already held are not news and never reach it. What a person is told of them
   * is src/store/notices.ts.
   */
  onEvents?: (sessionId: string, events: LoggedEvent[], view: SessionView, how: ArrivalHow) => void;
  newKey?: () => string;
  requestTimeoutMs?: number;
  commandAttempts?: number;
  /** how long to wait for the push of an acknowledged command before syncing */
  pushGraceMs?: number;
  setTimer?: (fn: () => void, ms: number) => unknown;
}

const TIMEOUT_MESSAGE =
  "The server did not confirm this in time. Check your connection; the page updates by itself if it went through.";

/** Two syncs merged into one: a catch-up stays a catch-up. */
function mergeHow(a: ArrivalHow, b: ArrivalHow): ArrivalHow {
  return a === "catch-up" || b === "catch-up" ? "catch-up" : "live";
}

function isTimeout(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === "TIMEOUT";
}

export class SessionController {
  private readonly deps: Required<
    Omit<ControllerDeps, "fetchOwnNumber" | "onAuthExpired" | "saveHead" | "onEvents">
  > &
    Pick<ControllerDeps, "fetchOwnNumber" | "onAuthExpired" | "saveHead" | "onEvents">;
  private unsubscribe: (() => void) | null = null;
  /** bumps on every open/close, so answers for an earlier session are dropped */
  private epoch = 0;
  private syncing = false;
  private pendingSince: number | null = null;
  /** how the events of the pending sync count for notices */
  private pendingHow: ArrivalHow = "live";
  private buffered: SessionEventPush[] = [];

  constructor(deps: ControllerDeps) {
    this.deps = {
      newKey: () => crypto.randomUUID(),
      requestTimeoutMs: 8_000,
      commandAttempts: 3,
      pushGraceMs: 1_500,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      ...deps,
    };
  }

  get store(): StoreApi<SessionStoreState> {
    return this.deps.store;
  }

  private get state(): SessionStoreState {
    return this.deps.store.getState();
  }

  private set(partial: Partial<SessionStoreState>): void {
    this.deps.store.setState(partial);
  }

  private setData(data: SessionData): void {
    this.set({ data });
  }

  async open(sessionId: string): Promise<void> {
    const epoch = ++this.epoch;
    this.syncing = false;
    this.pendingSince = null;
    this.pendingHow = "live";
    this.buffered = [];
    this.unsubscribe ??= this.deps.transport.subscribe({
      push: (p) => this.onPush(p),
      presence: (p) => this.onPresence(p),
      connection: (connected, reconnect) => this.onConnection(connected, reconnect),
      authExpired: () => this.deps.onAuthExpired(),
    });
    this.set({
      ...INITIAL_SESSION_STATE,
      sessionId,
      status: "loading",
      connection: this.deps.transport.isConnected() ? "online" : "connecting",
    });
    let ack: AckOf<"session:open">;
    try {
      ack = await this.deps.transport.request("session:open", { sessionId }, this.deps.requestTimeoutMs);
    } catch {
      if (epoch !== this.epoch) return;
      this.set({
        status: "error",
        error: {
          code: "TIMEOUT",
          message: "The session could not be opened: the server did not answer. Reload to try again.",
        },
      });
      return;
    }
    if (epoch !== this.epoch) return;
    if (!ack.ok) {
      this.set({ status: "error", error: { code: ack.code, message: ack.message } });
      return;
    }
    this.deps.saveHead?.(ack.head);
    this.set({ status: "ready", data: createSessionData(ack.view, ack.version), connection: "online" });
    // The own number with its history (sides only), and the whole log as this viewer may see it (the feed).
    void this.refreshOwnNumber();
    // Events past the snapshot's version that this sync brings happened after opening: they are news like pushes.
    await this.sync(0);
  }

  close(): void {
    const sessionId = this.state.sessionId;
    this.epoch++;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.buffered = [];
    this.pendingSince = null;
    this.syncing = false;
    this.set({ ...INITIAL_SESSION_STATE });
    // A closed connection has left every room already (and must not be reopened just to say so).
    if (sessionId && this.deps.transport.isConnected()) {
      this.deps.transport.request("session:leave", { sessionId }, this.deps.requestTimeoutMs).catch(() => {});
    }
  }

  /** One user action: one idempotency key, reused on each retry after a timeout. */
  async command(command: ClientCommandInput): Promise<CommandResult> {
    const sessionId = this.state.sessionId;
    if (!sessionId) return { ok: false, code: "SESSION_NOT_FOUND", message: "No session is open." };
    const idempotencyKey = this.deps.newKey();
    const epoch = this.epoch;
    for (let attempt = 1; attempt <= this.deps.commandAttempts; attempt++) {
      let ack: AckOf<"command">;
      try {
        ack = await this.deps.transport.request(
          "command",
          { sessionId, idempotencyKey, command },
          this.deps.requestTimeoutMs,
        );
      } catch (err) {
        if (isTimeout(err)) continue;
        return { ok: false, code: "INTERNAL", message: "Something went wrong. Please try again." };
      }
      if (!ack.ok) {
        return ack.retryAt === undefined
          ? { ok: false, code: ack.code, message: ack.message }
          : { ok: false, code: ack.code, message: ack.message, retryAt: ack.retryAt };
      }
      if (epoch === this.epoch) this.afterAck(command, ack);
      return { ok: true, version: ack.version };
    }
    return { ok: false, code: "TIMEOUT", message: TIMEOUT_MESSAGE };
  }

  private afterAck(command: ClientCommandInput, ack: Extract<AckOf<"command">, { ok: true }>): void {
    const data = this.state.data;
    if (!data) return;
    if (command.type === "SetNumber") {
      // The ack is the one place the server echoes the sender's own number.
      if (ack.own) this.setData(withOwnNumber(data, ack.own as Partial<OwnNumberView>));
      void this.refreshOwnNumber();
    }
    if (ack.version > data.version) {
      const epoch = this.epoch;
      // The push normally arrives first; if it was lost, sync rather than wait for the next one.
      this.deps.setTimer(() => {
        const now = this.state.data;
        if (epoch === this.epoch && now && now.version < ack.version) void this.sync(now.version);
      }, this.deps.pushGraceMs);
    }
  }

  onPush(push: SessionEventPush): void {
    const { data, sessionId } = this.state;
    if (!data || push.sessionId !== sessionId) return;
    if (this.syncing) {
      this.buffered.push(push);
      return;
    }
    if (push.head) this.deps.saveHead?.(push.head);
    if (push.finalHead) this.deps.saveHead?.(push.finalHead);
    const entry: LoggedEvent = { version: push.version, event: push.event };
    const outcome = receivePush(data, entry);
    if (outcome.kind === "duplicate") return;
    if (outcome.kind === "gap") {
      // The sync answer includes this push's event, which was committed before it was sent.
      void this.sync(outcome.sinceVersion);
      return;
    }
    this.setData(outcome.data);
    if (sessionId) this.deps.onEvents?.(sessionId, [entry], outcome.data.view, "live");
    const follow = followUpFor(outcome.data.view, entry);
    if (follow.refreshOwnNumber) void this.refreshOwnNumber();
    if (follow.refetchFrom !== null) void this.sync(follow.refetchFrom);
  }

  private onPresence(push: PresencePush): void {
    if (push.sessionId !== this.state.sessionId) return;
    this.set({ presence: push.online });
  }

  private onConnection(connected: boolean, reconnect: boolean): void {
    const { sessionId, data } = this.state;
    if (!connected) {
      if (this.state.status !== "idle") this.set({ connection: "reconnecting" });
      return;
    }
    this.set({ connection: "online" });
    if (!reconnect || !sessionId || !data) return;
    // A new connection is in no room: open again, then fetch whatever happened while away.
    const epoch = this.epoch;
    this.deps.transport
      .request("session:open", { sessionId }, this.deps.requestTimeoutMs)
      .then(() => {
        const now = this.state.data;
        if (epoch === this.epoch && now) {
          void this.sync(now.version, "catch-up");
          void this.refreshOwnNumber();
        }
      })
      .catch(() => {});
  }

  /**
   * Asks for every event after `since`; one sync at a time, pushes meanwhile wait in a buffer. `how` says how the
   * events past the last applied version count for notices (a catch-up after a reconnect is summed up).
   */
  async sync(since: number, how: ArrivalHow = "live"): Promise<void> {
    const sessionId = this.state.sessionId;
    if (!sessionId) return;
    if (this.syncing) {
      this.pendingSince = Math.min(this.pendingSince ?? since, since);
      this.pendingHow = mergeHow(this.pendingHow, how);
      return;
    }
    this.syncing = true;
    const epoch = this.epoch;
    let retry = false;
    try {
      const ack = await this.deps.transport.request(
        "sync",
        { sessionId, sinceVersion: since },
        this.deps.requestTimeoutMs,
      );
      if (epoch !== this.epoch) return;
      const data = this.state.data;
      if (ack.ok) this.deps.saveHead?.(ack.head);
      if (ack.ok && data) {
        const answer =
          "snapshot" in ack
            ? { version: ack.version, snapshot: ack.snapshot }
            : { version: ack.version, events: ack.events };
        const next = applySync(data, answer);
        this.setData(since === 0 && "events" in answer ? { ...next, logComplete: true } : next);
        const arrived = "snapshot" in ack ? [] : ack.events.filter((e) => e.version > data.version);
        if (arrived.length > 0) {
          arrived.sort((a, b) => a.version - b.version);
          this.deps.onEvents?.(sessionId, arrived, next.view, how);
        }
      }
    } catch {
      retry = epoch === this.epoch;
    } finally {
      if (epoch === this.epoch) {
        this.syncing = false;
        const waiting = this.buffered;
        this.buffered = [];
        for (const push of waiting) this.onPush(push);
        const pending = this.pendingSince;
        const pendingHow = this.pendingHow;
        this.pendingSince = null;
        this.pendingHow = "live";
        if (pending !== null) void this.sync(pending, pendingHow);
        else if (retry) {
          this.deps.setTimer(() => {
            const data = this.state.data;
            if (epoch === this.epoch && data) void this.sync(data.version, "catch-up");
          }, 2_000);
        }
      }
    }
  }

  /** The own side's number from the server (members of that side only). */
  async refreshOwnNumber(): Promise<void> {
    const { sessionId, data } = this.state;
    if (!sessionId || !data || data.view.viewer.side === null) return;
    const epoch = this.epoch;
    try {
      const own = await this.deps.fetchOwnNumber(sessionId);
      const now = this.state.data;
      if (epoch === this.epoch && now) this.setData(withOwnNumber(now, own));
    } catch {
      // The next push or reconnect refreshes it again.
    }
  }
}
