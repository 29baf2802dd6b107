// The home page's live list: every session of the person as a dashboard line (common/src/dashboard.ts), kept current
// over the app's one socket. `dashboard:open` answers with the lines and makes the connection receive each session's
// pushes; a push asks for that session's line again (one request per session at a time, and one more if pushes came
// meanwhile); `session:presence` carries who is online itself. After a reconnect the list is opened again. Nothing
// here decides anything: the server's line is shown as it is.
import { type DashboardEntry, dashboardOrder } from "@backchannel/common";
import { createStore, type StoreApi } from "zustand/vanilla";
import { isSignedOutCode, type UserError } from "../api";
import type { Transport, TransportHandlers } from "./session";

export interface DashboardState {
  status: "idle" | "loading" | "ready" | "error";
  error: UserError | null;
  /** the lines, most pressing first (dashboardOrder) */
  entries: DashboardEntry[];
  connection: "connecting" | "online" | "offline";
}

export const INITIAL_DASHBOARD: DashboardState = {
  status: "idle",
  error: null,
  entries: [],
  connection: "connecting",
};

export function createDashboardStore(): StoreApi<DashboardState> {
  return createStore<DashboardState>()(() => ({ ...INITIAL_DASHBOARD }));
}

export interface DashboardDeps {
  transport: Transport;
  store: StoreApi<DashboardState>;
  onAuthExpired(): void;
  /** the list over REST, shown when the socket cannot answer (it then stays as it was until the socket is back) */
  fallback?: () => Promise<DashboardEntry[]>;
  requestTimeoutMs?: number;
}

export class DashboardController {
  private unsubscribe: (() => void) | null = null;
  /** sessions whose line is being fetched, and whether another push came for it meanwhile */
  private readonly inFlight = new Map<string, boolean>();
  private generation = 0;

  constructor(private readonly deps: DashboardDeps) {}

  private get timeout(): number {
    return this.deps.requestTimeoutMs ?? 10_000;
  }

  private set(patch: Partial<DashboardState>): void {
    this.deps.store.setState(patch);
  }

  private setEntries(entries: DashboardEntry[]): void {
    this.set({ entries: [...entries].sort(dashboardOrder) });
  }

  async open(): Promise<void> {
    this.close();
    const generation = ++this.generation;
    const handlers: TransportHandlers = {
      push: (push) => this.changed(push.sessionId),
      presence: (push) => {
        const { entries } = this.deps.store.getState();
        if (!entries.some((e) => e.id === push.sessionId)) return;
        this.setEntries(entries.map((e) => (e.id === push.sessionId ? { ...e, online: push.online } : e)));
      },
      connection: (connected, reconnect) => {
        this.set({ connection: connected ? "online" : "offline" });
        // Rooms belong to a connection: a new one watches nothing until the list is opened again.
        if (connected && reconnect) void this.load(generation);
      },
      authExpired: () => this.deps.onAuthExpired(),
    };
    this.unsubscribe = this.deps.transport.subscribe(handlers);
    this.set({
      ...INITIAL_DASHBOARD,
      status: "loading",
      connection: this.deps.transport.isConnected() ? "online" : "connecting",
    });
    await this.load(generation);
  }

  close(): void {
    this.generation++;
    this.inFlight.clear();
    if (this.unsubscribe) {
      this.unsubscribe();
      this.unsubscribe = null;
      if (this.deps.transport.isConnected())
        this.deps.transport.request("dashboard:close", {}, this.timeout).catch(() => {});
    }
  }

  private async load(generation: number): Promise<void> {
    try {
      const ack = await this.deps.transport.request("dashboard:open", {}, this.timeout);
      if (generation !== this.generation) return;
      if (ack.ok) {
        this.setEntries(ack.sessions);
        this.set({ status: "ready", error: null });
        return;
      }
      if (isSignedOutCode(ack.code)) return this.deps.onAuthExpired();
      await this.fallBack(generation, { code: ack.code, message: ack.message });
    } catch {
      await this.fallBack(generation, {
        code: "TIMEOUT",
        message:
          "The server did not answer in time. The list may be out of date until the connection is back.",
      });
    }
  }

  private async fallBack(generation: number, error: UserError): Promise<void> {
    const entries = this.deps.fallback ? await this.deps.fallback().catch(() => null) : null;
    if (generation !== this.generation) return;
    if (entries) {
      this.setEntries(entries);
      this.set({ status: "ready", error: null });
    } else this.set({ status: "error", error });
  }

  /** A push for a session: its line is asked for again, once at a time. */
  private changed(sessionId: string): void {
    if (!this.deps.store.getState().entries.some((e) => e.id === sessionId)) return;
    if (this.inFlight.has(sessionId)) {
      this.inFlight.set(sessionId, true);
      return;
    }
    this.inFlight.set(sessionId, false);
    void this.refresh(sessionId, this.generation);
  }

  private async refresh(sessionId: string, generation: number): Promise<void> {
    try {
      const ack = await this.deps.transport.request("dashboard:entry", { sessionId }, this.timeout);
      if (generation !== this.generation) return;
      if (ack.ok) {
        const { entries } = this.deps.store.getState();
        this.setEntries(entries.map((e) => (e.id === sessionId ? ack.session : e)));
      }
    } catch {
      // The next push, or the reconnect's fresh list, brings it.
    } finally {
      if (generation === this.generation) {
        const again = this.inFlight.get(sessionId);
        this.inFlight.delete(sessionId);
        if (again) this.changed(sessionId);
      }
    }
  }
}
