// A benchmark participant: an account signed up over REST, and any number of Socket.IO connections of it,
// each recording when every session push arrived (adapted from the server's integration-test harness).
import { randomUUID } from "node:crypto";
import { io as connect, type Socket } from "socket.io-client";
import { ArrivalLog } from "./arrivals";

export type Ack =
  | { ok: true; version: number; [k: string]: unknown }
  | { ok: false; code: string; message: string };

export interface SessionPush {
  sessionId: string;
  version: number;
  event: { type: string; [k: string]: unknown };
}

export const pushKey = (sessionId: string, version: number) => `${sessionId}:v${version}`;
export const pushTypeKey = (sessionId: string, type: string) => `${sessionId}:${type}`;
/** The n-th push of a type in a session (1-based): the same key on every socket, whatever its role's positions. */
export const nthPushKey = (sessionId: string, type: string, n: number) => `${sessionId}:${type}#${n}`;

export class Account {
  token = "";
  userId = "";

  /**
   * `cookie`: sent with every request and socket handshake (behind the topology's proxy, a `bc_node` value that
   * leads to one web node).
   */
  constructor(
    readonly baseUrl: string,
    readonly name: string,
    readonly cookie?: string,
  ) {}

  async signUp(): Promise<this> {
    const email = `${this.name.toLowerCase().replace(/\W+/g, "-")}-${randomUUID().slice(0, 8)}@bench.example`;
    const r = await this.http("POST", "/api/auth/signup", {
      email,
      password: "correct horse battery",
      displayName: this.name,
    });
    if (r.status !== 201) throw new Error(`${this.name}: signup failed with HTTP ${r.status}`);
    const body = r.body as { token: string; user: { id: string } };
    this.token = body.token;
    this.userId = body.user.id;
    return this;
  }

  async http(method: string, route: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const res = await fetch(this.baseUrl + route, {
      method,
      headers: {
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(this.cookie ? { cookie: this.cookie } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: res.status, body: parsed };
  }

  async connect(): Promise<Connection> {
    const socket = connect(this.baseUrl, {
      auth: { token: this.token },
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      ...(this.cookie ? { extraHeaders: { cookie: this.cookie } } : {}),
    });
    const connection = new Connection(this, socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("connect_error", (e) => reject(e));
    });
    return connection;
  }
}

export class Connection {
  /** Session pushes by (session, version) and by (session, event type), first arrival only. */
  private readonly counts = new Map<string, number>();
  /** how many pushes of a type this socket has received in a session */
  countOf(sessionId: string, type: string): number {
    return this.counts.get(pushTypeKey(sessionId, type)) ?? 0;
  }
  readonly arrivals = new ArrivalLog<SessionPush>((p) => {
    const type = pushTypeKey(p.sessionId, p.event.type);
    const n = (this.counts.get(type) ?? 0) + 1;
    this.counts.set(type, n);
    return [pushKey(p.sessionId, p.version), type, nthPushKey(p.sessionId, p.event.type, n)];
  });

  constructor(
    readonly account: Account,
    readonly socket: Socket,
  ) {
    socket.on("session:event", (...pushes: SessionPush[]) => {
      for (const push of pushes) this.arrivals.record(push);
    });
    socket.on("disconnect", (reason) => {
      if (reason !== "io client disconnect") this.dropped = reason;
    });
  }

  /** why the server or the network closed this socket, if it did (a client's own close() is not a drop) */
  dropped: string | null = null;

  async emit(name: string, payload: unknown, timeoutMs = 5_000): Promise<Ack> {
    return (await this.socket.timeout(timeoutMs).emitWithAck(name, payload)) as Ack;
  }

  async open(sessionId: string): Promise<void> {
    const ack = await this.emit("session:open", { sessionId });
    if (!ack.ok) throw new Error(`${this.account.name}: session:open refused with ${ack.code}`);
  }

  command(sessionId: string, command: Record<string, unknown>): Promise<Ack> {
    return this.emit("command", { sessionId, idempotencyKey: `bench-${randomUUID()}`, command });
  }

  close(): void {
    this.socket.disconnect();
  }
}
