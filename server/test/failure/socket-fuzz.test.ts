// Abuse proof: 100,000 malformed socket events (every known event name and random ones; payloads of any JSON shape,
// binary, several arguments, none; with an ack and without) against one real server. The server never crashes,
// every acknowledged event is answered with a stable refusal code (never INTERNAL, the socket's 5xx), nothing it
// logs is an error, and afterwards it still serves a well-formed command. Prints its figure.
import { ERROR_CODES } from "@backchannel/common";
import fc from "fast-check";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server";
import { leftToNewcomerPass } from "../support/db";
import { createStorage, Participant, type Storage, startOn } from "../support/server";

const EVENTS = 100_000;
const SOCKETS = 8;
/** in flight at once per socket */
const WINDOW = 200;

const KNOWN = [
  "session:open",
  "session:leave",
  "command",
  "sync",
  "dashboard:open",
  "dashboard:entry",
  "dashboard:close",
];

const elsewhere = leftToNewcomerPass("the socket fuzz (embedded only)");

describe.skipIf(elsewhere)("socket fuzz", () => {
  let storage: Storage;
  let server: RunningServer;
  const errorLines: string[] = [];
  let sessionId = "";
  const people: Participant[] = [];

  beforeAll(async () => {
    storage = await createStorage("embedded");
    // Every error (or worse) the server logs is kept: a handler that threw unexpectedly logs one.
    const log = pino(
      { level: "warn" },
      {
        write: (line: string) => {
          if (JSON.parse(line).level >= 50) errorLines.push(line);
        },
      },
    );
    // The flood limit would answer most of the fuzz with TOO_MANY_REQUESTS before a handler saw it: raised here.
    server = await startOn(
      storage,
      { SOCKET_RATE_LIMIT: "10000000/10s", SOCKETS_PER_ACCOUNT: "50" },
      { log },
    );
    const a = await new Participant(server.url, "Fuzz A").signUp();
    const created = await a.http("POST", "/api/sessions", {
      title: "Fuzz v. Fuzz",
      creatorRole: "claimant",
      rules: {},
    });
    sessionId = (created.body as { view: { id: string } }).view.id;
    people.push(a);
  });
  afterAll(async () => {
    for (const p of people) p.close();
    await server?.close();
    await storage?.dispose();
  });

  it(`answers ${EVENTS.toLocaleString("en-US")} malformed events without a crash, an INTERNAL or an error line`, async () => {
    const uuid = fc.oneof(fc.uuid(), fc.constant(sessionId));
    const commandLike = fc.record(
      {
        type: fc.oneof(
          fc.constantFrom(
            "SetNumber",
            "Knock",
            "PostMessage",
            "Withdraw",
            "ApproveTerms",
            "Tick",
            "JoinSession",
          ),
          fc.string(),
        ),
        amount: fc.oneof(
          fc.integer(),
          fc.double(),
          fc.constantFrom(0, -1, 2 ** 53, Number.MAX_SAFE_INTEGER + 2, 1e308),
          fc.string(),
        ),
        room: fc.oneof(fc.constantFrom("joint", "side:claimant", "caucus:respondent", "x:y"), fc.string()),
        text: fc.string({ maxLength: 300 }),
      },
      { requiredKeys: ["type"] },
    );
    const payload = fc.oneof(
      { weight: 3, arbitrary: fc.anything({ maxDepth: 3 }) },
      {
        weight: 3,
        arbitrary: fc.record(
          {
            sessionId: fc.oneof(uuid, fc.string(), fc.integer()),
            idempotencyKey: fc.oneof(fc.string({ maxLength: 120 }), fc.constant("k-12345678")),
            command: fc.oneof(commandLike, fc.anything({ maxDepth: 2 })),
            sinceVersion: fc.oneof(fc.integer(), fc.double(), fc.string()),
            extra: fc.anything({ maxDepth: 1 }),
          },
          { requiredKeys: [] },
        ),
      },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)) },
      { weight: 1, arbitrary: fc.constantFrom(undefined, null, 0, "", [], {}, Number.NaN) },
    );
    // Shaped like the real thing, with one field at the edge or wrong: reaches the handlers and the engine.
    const shapedCommand = fc.record({
      sessionId: uuid,
      idempotencyKey: fc.stringMatching(/^[!-~]{8,40}$/),
      command: fc.oneof(
        fc.record({
          type: fc.constant("SetNumber"),
          amount: fc.oneof(
            fc.integer({ min: -10, max: 2 ** 53 }),
            fc.constantFrom(0, 1, 100, 100_000_00, Number.MAX_SAFE_INTEGER, 0.5, -0, 1e21),
          ),
        }),
        fc.record({
          type: fc.constant("PostMessage"),
          room: fc.constantFrom("joint", "side:claimant", "caucus:respondent", "caucus:x", ""),
          text: fc.oneof(fc.string({ maxLength: 50 }), fc.constant("x".repeat(5000)), fc.constant("")),
        }),
        fc.constantFrom({ type: "Knock" }, { type: "SkipTerms" }, { type: "Tick" }, { type: "JoinSession" }),
      ),
    });
    const shaped = fc.oneof(
      fc.record({ name: fc.constant("command"), args: fc.tuple(shapedCommand) }),
      fc.record({
        name: fc.constant("sync"),
        args: fc.tuple(fc.record({ sessionId: uuid, sinceVersion: fc.integer({ min: -1, max: 2 ** 40 }) })),
      }),
      fc.record({
        name: fc.constantFrom("session:open", "session:leave", "dashboard:entry"),
        args: fc.tuple(fc.record({ sessionId: uuid })),
      }),
    );
    const anyCall = fc.record({
      name: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...KNOWN) },
        { weight: 1, arbitrary: fc.string() },
      ),
      args: fc.array(payload, { minLength: 0, maxLength: 3 }),
    });
    const sample = fc.record({
      call: fc.oneof({ weight: 1, arbitrary: shaped }, { weight: 9, arbitrary: anyCall }),
      ack: fc.boolean(),
    });
    const events = fc.sample(sample, { numRuns: EVENTS, seed: 7 });

    const sockets = [];
    for (let i = 0; i < SOCKETS; i++) {
      const p = Object.assign(new Participant(server.url, `Fuzz socket ${i}`), {
        token: people[0]!.token,
        user: people[0]!.user,
      });
      await p.connect();
      people.push(p);
      sockets.push(p.socket!);
    }

    const codes = new Map<string, number>();
    const count = (k: string) => codes.set(k, (codes.get(k) ?? 0) + 1);
    let disconnects = 0;
    for (const s of sockets) s.on("disconnect", () => disconnects++);
    // Names the client library keeps for itself cannot be emitted; those samples count as sent unchanged otherwise.
    const reserved = new Set([
      "connect",
      "connect_error",
      "disconnect",
      "disconnecting",
      "newListener",
      "removeListener",
    ]);

    let next = 0;
    await Promise.all(
      sockets.map(async (socket) => {
        const inFlight = new Set<Promise<void>>();
        for (;;) {
          const i = next++;
          if (i >= events.length) break;
          const { call, ack } = events[i]!;
          const e = { name: call.name, args: call.args as unknown[], ack };
          const name = reserved.has(e.name) ? `x-${e.name}` : e.name;
          if (!e.ack) {
            socket.emit(name, ...e.args);
            count("no ack");
            continue;
          }
          // The limit only tells "never answered" from "answered late": on two cores shared with .ci/run's other
          // pass, 20 s once left 23 of some 50,000 answers out (a loaded run; whether late or lost is not known).
          const p: Promise<void> = (socket.timeout(90_000).emitWithAck(name, ...e.args) as Promise<unknown>)
            .then((r) => {
              const res = r as { ok?: boolean; code?: string };
              count(res.ok === true ? "ok" : String(res.code));
            })
            .catch(() => {
              count("no answer");
            })
            .finally(() => inFlight.delete(p));
          inFlight.add(p);
          if (inFlight.size >= WINDOW) await Promise.race(inFlight);
        }
        await Promise.all(inFlight);
      }),
    );

    const figure = [...codes.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}: ${v}`);
    console.log(`${EVENTS} malformed socket events, answers: ${figure.join(", ")}`);

    expect(codes.get("INTERNAL") ?? 0).toBe(0);
    expect(codes.get("no answer") ?? 0).toBe(0);
    for (const code of codes.keys())
      if (!["ok", "no ack"].includes(code)) expect(ERROR_CODES as readonly string[]).toContain(code);
    expect(disconnects).toBe(0);
    expect(errorLines).toEqual([]);
    // The fuzz reached the handlers' validation, not only the unknown-event answer.
    expect(codes.get("INVALID_INPUT") ?? 0).toBeGreaterThan(EVENTS / 4);
    expect(codes.get("UNKNOWN_EVENT") ?? 0).toBeGreaterThan(1000);
    // ... and the engine: commands refused for what they ask, on a real session and on ones that do not exist.
    expect(codes.get("SESSION_NOT_FOUND") ?? 0).toBeGreaterThan(1000);

    // Still serving: a well-formed command from a fresh connection.
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    const fresh = Object.assign(new Participant(server.url, "After"), {
      token: people[0]!.token,
      user: people[0]!.user,
    });
    await fresh.connect();
    people.push(fresh);
    // (The fuzz may have ended its session with a well-formed Withdraw: a new one is made for the check.)
    const created = await people[0]!.http("POST", "/api/sessions", {
      title: "After the fuzz",
      creatorRole: "claimant",
      rules: {},
    });
    expect(created.status).toBe(201);
    const after = (created.body as { view: { id: string } }).view.id;
    expect(await fresh.emit("session:open", { sessionId: after })).toMatchObject({ ok: true });
    expect(await fresh.command(after, { type: "Knock" })).toMatchObject({ ok: true });
  }, 300_000);
});
