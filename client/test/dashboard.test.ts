// The home page's controller against a fake socket: the list arrives sorted, a push asks for that line again (one
// request at a time, one more when pushes came meanwhile), presence updates in place, a reconnect opens the list
// again, REST stands in when the socket cannot answer, and closing stops everything.
import type { ClientToServerEvents, DashboardEntry, SessionEventPush } from "@backchannel/common";
import { describe, expect, it } from "vitest";
import { createDashboardStore, DashboardController } from "../src/store/dashboard";
import type { Transport, TransportHandlers } from "../src/store/session";

const line = (id: string, over: Partial<DashboardEntry> = {}): DashboardEntry => ({
  id,
  title: `Session ${id}`,
  role: "mediator",
  canBid: false,
  version: 1,
  phase: "step2",
  status: "step2",
  nextDeadline: null,
  knocks: [],
  proposal: null,
  needs: [],
  endedAt: null,
  updatedAt: 0,
  online: [],
  ...over,
});

class FakeSocket implements Transport {
  calls: Array<{ event: string; payload: unknown }> = [];
  handlers: TransportHandlers[] = [];
  connected = true;
  lines = new Map<string, DashboardEntry>();
  /** answers to dashboard:entry are held until released, to see what happens meanwhile */
  hold = false;
  private held: Array<() => void> = [];
  failOpen = false;

  async request(event: keyof ClientToServerEvents, payload: unknown): Promise<never> {
    this.calls.push({ event, payload });
    if (event === "dashboard:open") {
      if (this.failOpen) throw Object.assign(new Error("timeout"), { code: "TIMEOUT" });
      return { ok: true, sessions: [...this.lines.values()] } as never;
    }
    if (event === "dashboard:entry") {
      const id = (payload as { sessionId: string }).sessionId;
      if (this.hold) await new Promise<void>((r) => this.held.push(r));
      return { ok: true, session: this.lines.get(id) } as never;
    }
    return { ok: true } as never;
  }
  release() {
    const held = this.held;
    this.held = [];
    for (const r of held) r();
  }
  subscribe(h: TransportHandlers) {
    this.handlers.push(h);
    return () => {
      this.handlers = this.handlers.filter((x) => x !== h);
    };
  }
  isConnected() {
    return this.connected;
  }
  push(sessionId: string) {
    for (const h of this.handlers) h.push({ sessionId } as SessionEventPush);
  }
  count(event: string) {
    return this.calls.filter((c) => c.event === event).length;
  }
}

const settle = () => new Promise((r) => setTimeout(r, 0));

function setup(fallback?: () => Promise<DashboardEntry[]>) {
  const socket = new FakeSocket();
  const store = createDashboardStore();
  let expired = 0;
  const controller = new DashboardController({
    transport: socket,
    store,
    onAuthExpired: () => expired++,
    fallback,
  });
  return { socket, store, controller, expired: () => expired };
}

describe("DashboardController", () => {
  it("shows the list most pressing first, and asks again for a line whose session changed", async () => {
    const { socket, store, controller } = setup();
    socket.lines.set("a", line("a", { updatedAt: 5 }));
    socket.lines.set("b", line("b", { needs: ["knock"], knocks: [{ side: "claimant", at: 1 }] }));
    await controller.open();
    expect(store.getState().status).toBe("ready");
    expect(store.getState().entries.map((e) => e.id)).toEqual(["b", "a"]);

    socket.lines.set("a", line("a", { status: "deal", phase: "ended" }));
    socket.push("a");
    await settle();
    expect(store.getState().entries.find((e) => e.id === "a")?.status).toBe("deal");
    // A push for a session not on the list asks for nothing.
    socket.push("unknown");
    await settle();
    expect(socket.count("dashboard:entry")).toBe(1);
  });

  it("asks for a line once at a time, and once more when pushes came while it was asking", async () => {
    const { socket, controller } = setup();
    socket.lines.set("a", line("a"));
    await controller.open();
    socket.hold = true;
    socket.push("a");
    socket.push("a");
    socket.push("a");
    await settle();
    expect(socket.count("dashboard:entry")).toBe(1);
    socket.release();
    await settle();
    await settle();
    expect(socket.count("dashboard:entry")).toBe(2);
    socket.release();
    await settle();
    expect(socket.count("dashboard:entry")).toBe(2);
  });

  it("updates who is online from the presence push, and opens the list again after a reconnect", async () => {
    const { socket, store, controller } = setup();
    socket.lines.set("a", line("a"));
    await controller.open();
    for (const h of socket.handlers)
      h.presence({ sessionId: "a", online: [{ userId: "u1", role: "claimant" }] });
    expect(store.getState().entries[0]?.online).toEqual([{ userId: "u1", role: "claimant" }]);
    for (const h of socket.handlers) h.connection(false, false);
    expect(store.getState().connection).toBe("offline");
    for (const h of socket.handlers) h.connection(true, true);
    await settle();
    expect(store.getState().connection).toBe("online");
    expect(socket.count("dashboard:open")).toBe(2);
  });

  it("falls back to the REST list when the socket does not answer, and says so when neither does", async () => {
    const rest = setup(async () => [line("r")]);
    rest.socket.failOpen = true;
    await rest.controller.open();
    expect(rest.store.getState()).toMatchObject({ status: "ready", error: null });
    expect(rest.store.getState().entries.map((e) => e.id)).toEqual(["r"]);

    const none = setup(async () => {
      throw new Error("offline");
    });
    none.socket.failOpen = true;
    await none.controller.open();
    expect(none.store.getState().status).toBe("error");
    expect(none.store.getState().error?.message).toMatch(/did not answer in time/);
  });

  it("stops listening and tells the server when closed", async () => {
    const { socket, controller } = setup();
    socket.lines.set("a", line("a"));
    await controller.open();
    controller.close();
    expect(socket.handlers).toHaveLength(0);
    expect(socket.count("dashboard:close")).toBe(1);
  });
});
