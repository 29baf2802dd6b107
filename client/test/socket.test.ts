// The real socket module against a fake socket.io-client: the handshake carries the protocol version, a server
// that refuses it gets "reload", and pushes pass through the shared wire schema before any listener sees them.
import { PROTOCOL_VERSION } from "@backchannel/common";
import { beforeEach, describe, expect, it, vi } from "vitest";

type Handler = (...args: unknown[]) => void;
const fake = vi.hoisted(() => ({
  options: undefined as Record<string, unknown> | undefined,
  handlers: new Map<string, Handler>(),
  disconnected: 0,
}));

vi.mock("socket.io-client", () => ({
  io: (options: Record<string, unknown>) => {
    fake.options = options;
    return {
      connected: false,
      on: (event: string, handler: Handler) => fake.handlers.set(event, handler),
      disconnect: () => {
        fake.disconnected += 1;
      },
      removeAllListeners: () => fake.handlers.clear(),
    };
  },
}));

const { disconnectSocket, handshakeAuth, isOutOfDate, OUT_OF_DATE_MESSAGE, socketTransport } = await import(
  "../src/socket"
);

const SESSION_ID = "00000000-0000-4000-8000-000000000001";
const head = (position: number) => ({
  sessionId: SESSION_ID,
  stream: "claimant",
  position,
  head: "a".repeat(64),
  signature: "s".repeat(86),
  keyId: "0123456789abcdef",
});

function listen() {
  const seen = { pushes: [] as unknown[], connection: [] as boolean[], expired: 0 };
  socketTransport.subscribe({
    push: (p) => seen.pushes.push(p),
    presence: () => {},
    connection: (c) => seen.connection.push(c),
    authExpired: () => {
      seen.expired += 1;
    },
  });
  return seen;
}

beforeEach(() => {
  disconnectSocket();
  fake.handlers.clear();
  fake.options = undefined;
  fake.disconnected = 0;
});

describe("the socket", () => {
  it("sends the protocol version in the handshake, and keeps the cookie (withCredentials)", () => {
    listen();
    expect(fake.options?.withCredentials).toBe(true);
    const auth = fake.options?.auth as (send: (a: unknown) => void) => void;
    let sent: unknown;
    auth((a) => {
      sent = a;
    });
    expect(sent).toEqual({ protocol: PROTOCOL_VERSION });
    expect(handshakeAuth()).toEqual({ protocol: PROTOCOL_VERSION });
  });

  it("PROTOCOL_UNSUPPORTED: stops, and says the page is out of date", () => {
    const seen = listen();
    expect(isOutOfDate()).toBe(false);
    const err = Object.assign(new Error("refused"), { data: { code: "PROTOCOL_UNSUPPORTED" } });
    fake.handlers.get("connect_error")?.(err);
    expect(isOutOfDate()).toBe(true);
    expect(fake.disconnected).toBe(1);
    expect(seen.connection).toEqual([false]);
    expect(seen.expired).toBe(0);
    expect(OUT_OF_DATE_MESSAGE).toBe("This page is out of date: reload it.");
  });

  it("passes on a push its schema accepts, and drops one it refuses (unknown type, or an amount in a push)", () => {
    const seen = listen();
    const push = fake.handlers.get("session:event");
    const good = {
      sessionId: SESSION_ID,
      version: 3,
      head: head(3),
      event: { type: "NumberSet", side: "claimant", by: "u1", step: 2, at: 1 },
    };
    push?.(good);
    push?.({ ...good, event: { type: "FromTheFuture", at: 1 } });
    push?.({ ...good, event: { ...good.event, amount: 5_000_000 } });
    expect(seen.pushes).toEqual([good]);
  });

  it("passes on each push of a message that carries several (one commit's), in order, dropping only a refused one", () => {
    const seen = listen();
    const push = fake.handlers.get("session:event");
    const at = (version: number, type: string) => ({
      sessionId: SESSION_ID,
      version,
      event: { type, at: 1 },
    });
    const closed = { ...at(4, "Step2Closed"), event: { type: "Step2Closed", at: 1, deal: false } };
    const opened = {
      ...at(5, "Step3Opened"),
      head: head(5),
      event: { type: "Step3Opened", at: 1, closesAt: 2 },
    };
    push?.(closed, at(5, "FromTheFuture"), opened);
    expect(seen.pushes).toEqual([closed, opened]);
  });
});
