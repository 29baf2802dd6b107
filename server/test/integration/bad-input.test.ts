// Bad input, end to end over real HTTP and Socket.IO: each refusal carries a stable code and a plain sentence
// (never the submitted number), leaves what is stored untouched, and the server keeps serving everyone else.
import { randomBytes, randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server";
import { type Ack, backends, createStorage, Participant, type Storage, startOn } from "../support/server";
import { accept, invite, ok, openTable, type Table } from "./harness";

// Distinctive amounts that cannot collide with timestamps, versions or ids.
const DEMAND = 73_914_205;
const LOW_OFFER = 70_212_303;
const MAX_AMOUNT = 10 ** 13;

// Deadlines far beyond the test's run, so no clock event moves a session while a test compares snapshots.
const LONG_RULES = { step2DurationMs: 600_000, step3DurationMs: 600_000, maxSessionMs: 1_800_000 };

// Small enough for the flood test to cross quickly, large enough that no other test's socket comes near it.
const SOCKET_LIMIT = { points: 60, seconds: 3 };
const FLOOD = 150;

// The server's clock, skewed only by the expired-invitation test (the API cannot issue an invitation in the past).
let skewMs = 0;
const clock = () => Date.now() + skewMs;

function startWithClock(storage: Storage): Promise<RunningServer> {
  return startOn(
    storage,
    { SOCKET_RATE_LIMIT: `${SOCKET_LIMIT.points}/${SOCKET_LIMIT.seconds}s` },
    { now: clock },
  );
}

type HttpResult = Awaited<ReturnType<Participant["http"]>>;

/** A refusal's message is a sentence for a person: no stack, no exception name, never the submitted value. */
function expectSentence(message: unknown, submitted: unknown[]) {
  expect(typeof message).toBe("string");
  const text = message as string;
  expect(text.trim().length).toBeGreaterThan(5);
  expect(text).not.toMatch(/^\s*\w*Error\b/);
  expect(text).not.toMatch(/\n\s*at\s|\bat .+:\d+:\d+|node_modules|\.ts:\d+/);
  for (const value of submitted)
    expect(text, "the message echoes the submitted value").not.toContain(String(value));
}

function expectRefused(ack: unknown, code: string, ...submitted: unknown[]) {
  expect(ack).toMatchObject({ ok: false, code });
  expectSentence((ack as { message?: unknown }).message, submitted);
}

function expectHttpRefused(res: HttpResult, status: number, code: string, ...submitted: unknown[]) {
  expect(res.status, res.text).toBe(status);
  const error = (res.body as { error?: { code?: string; message?: string } }).error;
  expect(error?.code, res.text).toBe(code);
  expectSentence(error?.message, submitted);
}

interface Stored {
  version: number;
  view: string;
  events: string;
}

/** What is stored, as one member reads it: the version, the redacted snapshot and every event since 0. */
async function stored(p: Participant, sessionId: string): Promise<Stored> {
  const view = await p.http("GET", `/api/sessions/${sessionId}`);
  const events = await p.http("GET", `/api/sessions/${sessionId}/events?since=0`);
  expect(view.status, view.text).toBe(200);
  expect(events.status, events.text).toBe(200);
  return { version: (view.body as { version: number }).version, view: view.text, events: events.text };
}

async function expectUnchanged(p: Participant, sessionId: string, before: Stored) {
  const after = await stored(p, sessionId);
  expect(after.version).toBe(before.version);
  expect(after.events).toBe(before.events);
  expect(after.view).toBe(before.view);
}

function commandBody(command: Record<string, unknown>) {
  return { idempotencyKey: `k-${randomUUID()}`, command };
}

/** The connect_error of a socket handshake that must fail. */
async function refusedHandshake(
  p: Participant,
  origin?: string,
): Promise<Error & { data?: { code?: string; message?: string } }> {
  try {
    await p.connect(origin ? { origin } : {});
  } catch (err) {
    return err as Error & { data?: { code?: string; message?: string } };
  }
  p.close();
  throw new Error(`${p.name}: the handshake was accepted`);
}

function disconnected(p: Participant): Promise<string> {
  const socket = p.socket;
  if (!socket) throw new Error("not connected");
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${p.name}: still connected`)), 5000);
    socket.once("disconnect", (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

for (const backend of backends()) {
  describe(`bad input on ${backend === "embedded" ? "PGlite + in-process scheduler" : "PostgreSQL + Redis + BullMQ"}`, () => {
    let storage: Storage;
    let server: RunningServer;
    // One quiet Step 2 table that refused input must leave as it was; tests that end or flood a session open their own.
    let t: Table;
    const participants: Participant[] = [];

    beforeAll(async () => {
      storage = await createStorage(backend);
      server = await startWithClock(storage);
      t = await table();
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: DEMAND }));
    });
    afterAll(async () => {
      for (const p of participants) p.close();
      await server?.close();
      await storage?.dispose();
    });

    const table = async (rules: Record<string, unknown> = LONG_RULES) => {
      const opened = await openTable(server, rules);
      participants.push(...opened.all);
      return opened;
    };
    const person = async (name: string) => {
      const p = await new Participant(server.url, name).signUp();
      participants.push(p);
      return p;
    };
    const anonymous = (name: string, token: string) => {
      const p = new Participant(server.url, name);
      p.token = token;
      participants.push(p);
      return p;
    };

    /** The server still answers: health, and another member's valid command on the quiet table. */
    const expectServing = async (by: Participant = t.respondent, sessionId = t.sessionId) => {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const room = by === t.claimant ? "side:claimant" : "side:respondent";
      await ok(by.command(sessionId, { type: "PostMessage", room, text: "Still here." }));
    };

    const signToken = (claims: { sub: string; exp: number; aud?: string }, secret = storage.jwtSecret) =>
      new SignJWT({ email: "someone@example.test", name: "Someone" })
        .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
        .setSubject(claims.sub)
        .setIssuer("backchannel")
        .setAudience(claims.aud ?? "backchannel-app")
        .setIssuedAt(claims.exp - 3600)
        .setExpirationTime(claims.exp)
        .sign(new TextEncoder().encode(secret));

    // ------------------------------------------------------------------ malformed input

    it("REST: a malformed JSON body -> 400 INVALID_INPUT", async () => {
      const before = await stored(t.claimant, t.sessionId);
      const r = await t.claimant.http("POST", `/api/sessions/${t.sessionId}/commands`, "{not json");
      expectHttpRefused(r, 400, "INVALID_INPUT");
      // A NaN literal is not JSON either.
      const nan = await t.claimant.http(
        "POST",
        `/api/sessions/${t.sessionId}/commands`,
        '{"idempotencyKey":"k-nan-literal","command":{"type":"SetNumber","amount":NaN}}',
      );
      expectHttpRefused(nan, 400, "INVALID_INPUT");
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });

    it("REST: a body that is not JSON at all (text/plain, a bare array) -> 400 INVALID_INPUT", async () => {
      const before = await stored(t.claimant, t.sessionId);
      const route = `/api/sessions/${t.sessionId}/commands`;
      const text = await t.claimant.http("POST", route, JSON.stringify(commandBody({ type: "Knock" })), {
        "content-type": "text/plain",
      });
      expectHttpRefused(text, 400, "INVALID_INPUT");
      expectHttpRefused(await t.claimant.http("POST", route, []), 400, "INVALID_INPUT");
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });

    it("socket: a packet that is not valid JSON closes that socket only; everyone else keeps going", async () => {
      const intruder = await person("Garbled Client");
      await intruder.connect();
      const before = await stored(t.claimant, t.sessionId);
      const closed = disconnected(intruder);
      intruder.socket?.io.engine.write('2["command",{not json');
      expect(await closed).toBe("transport close");
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
      // The same account can connect again at once.
      await intruder.connect();
      expect(await intruder.emit("session:open", { sessionId: t.sessionId })).toMatchObject({
        ok: false,
        code: "SESSION_NOT_FOUND",
      });
    });

    it("socket: a payload that is not an object (string, array, number, null) -> INVALID_INPUT", async () => {
      const before = await stored(t.claimant, t.sessionId);
      for (const payload of ["SetNumber", [t.sessionId], 42, null]) {
        expectRefused(await t.claimant.emit("command", payload), "INVALID_INPUT");
        expectRefused(await t.claimant.emit("sync", payload), "INVALID_INPUT");
      }
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });

    it("socket: an event sent with no payload at all still gets an answer: INVALID_INPUT", async () => {
      const before = await stored(t.claimant, t.sessionId);
      const socket = t.claimant.socket;
      if (!socket) throw new Error("not connected");
      for (const name of ["command", "sync", "session:open"]) {
        expectRefused(await socket.timeout(5000).emitWithAck(name), "INVALID_INPUT");
      }
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });

    it("unknown events: socket -> UNKNOWN_EVENT ack; REST route -> 404 UNKNOWN_EVENT", async () => {
      const before = await stored(t.claimant, t.sessionId);
      expectRefused(await t.claimant.emit("launch-missiles", { sessionId: t.sessionId }), "UNKNOWN_EVENT");
      expectRefused(await t.claimant.emit("session:destroy", { sessionId: t.sessionId }), "UNKNOWN_EVENT");
      // Without an ack there is nobody to answer; the socket stays usable.
      t.claimant.socket?.emit("launch-missiles", { sessionId: t.sessionId });
      await ok(t.claimant.emit("sync", { sessionId: t.sessionId, sinceVersion: before.version }));
      expect(t.claimant.socket?.connected).toBe(true);
      expectHttpRefused(await t.claimant.http("POST", "/api/launch-missiles", {}), 404, "UNKNOWN_EVENT");
      expectHttpRefused(
        await t.claimant.http("GET", `/api/sessions/${t.sessionId}/secrets`),
        404,
        "UNKNOWN_EVENT",
      );
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });

    it("an unknown command type -> INVALID_INPUT, over the socket and REST", async () => {
      const before = await stored(t.claimant, t.sessionId);
      expectRefused(await t.claimant.command(t.sessionId, { type: "RevealOtherSide" }), "INVALID_INPUT");
      // REST-only and clock commands are not client commands either.
      expectRefused(await t.claimant.command(t.sessionId, { type: "Tick" }), "INVALID_INPUT");
      expectRefused(
        await t.claimant.command(t.sessionId, { type: "JoinSession", invitationId: "x" }),
        "INVALID_INPUT",
      );
      const r = await t.claimant.http(
        "POST",
        `/api/sessions/${t.sessionId}/commands`,
        commandBody({ type: "RevealOtherSide" }),
      );
      expectHttpRefused(r, 400, "INVALID_INPUT");
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });

    // ------------------------------------------------------------------ missing and extra fields

    it("missing fields -> INVALID_INPUT (INVALID_AMOUNT when the missing field is the amount)", async () => {
      const before = await stored(t.claimant, t.sessionId);
      const sessionId = t.sessionId;
      const idempotencyKey = `k-${randomUUID()}`;
      const setNumber = { type: "SetNumber", amount: DEMAND + 1 };
      expectRefused(
        await t.claimant.emit("command", { idempotencyKey, command: setNumber }),
        "INVALID_INPUT",
        DEMAND + 1,
      );
      expectRefused(
        await t.claimant.emit("command", { sessionId, command: setNumber }),
        "INVALID_INPUT",
        DEMAND + 1,
      );
      expectRefused(await t.claimant.emit("command", { sessionId, idempotencyKey }), "INVALID_INPUT");
      expectRefused(
        await t.claimant.emit("command", { sessionId, idempotencyKey, command: { amount: DEMAND + 1 } }),
        "INVALID_INPUT",
        DEMAND + 1,
      );
      expectRefused(await t.claimant.command(sessionId, { type: "SetNumber" }), "INVALID_AMOUNT");
      expectRefused(
        await t.claimant.command(sessionId, { type: "PostMessage", room: "side:claimant" }),
        "INVALID_INPUT",
      );
      expectRefused(await t.claimant.emit("sync", { sessionId }), "INVALID_INPUT");
      expectRefused(await t.claimant.emit("session:open", {}), "INVALID_INPUT");
      const rest = await t.claimant.http("POST", `/api/sessions/${sessionId}/commands`, {
        command: setNumber,
      });
      expectHttpRefused(rest, 400, "INVALID_INPUT", DEMAND + 1);
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });

    it("extra fields (a spoofed actor, an unknown key, a second payload) -> INVALID_INPUT", async () => {
      const before = await stored(t.claimant, t.sessionId);
      const sessionId = t.sessionId;
      const spoofed = { type: "SetNumber", amount: DEMAND + 2, actor: t.claimantClient.user.id };
      expectRefused(await t.claimant.command(sessionId, spoofed), "INVALID_INPUT", DEMAND + 2);
      expectRefused(
        await t.claimant.command(sessionId, { type: "Withdraw", side: "respondent" }),
        "INVALID_INPUT",
      );
      const extraTop = {
        sessionId,
        idempotencyKey: `k-${randomUUID()}`,
        command: { type: "Knock" },
        userId: t.respondent.user.id,
      };
      expectRefused(await t.claimant.emit("command", extraTop), "INVALID_INPUT");
      expectRefused(
        await t.claimant.emit("sync", { sessionId, sinceVersion: 0, role: "mediator" }),
        "INVALID_INPUT",
      );
      const socket = t.claimant.socket;
      if (!socket) throw new Error("not connected");
      const twoPayloads = await socket
        .timeout(5000)
        .emitWithAck(
          "command",
          { sessionId, idempotencyKey: `k-${randomUUID()}`, command: { type: "Knock" } },
          { as: "mediator" },
        );
      expectRefused(twoPayloads, "INVALID_INPUT");
      const rest = await t.claimant.http("POST", `/api/sessions/${sessionId}/commands`, commandBody(spoofed));
      expectHttpRefused(rest, 400, "INVALID_INPUT", DEMAND + 2);
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });

    it("out-of-range fields (a negative sync version, a bad id, an over-long message) -> INVALID_INPUT", async () => {
      const before = await stored(t.claimant, t.sessionId);
      expectRefused(
        await t.claimant.emit("sync", { sessionId: t.sessionId, sinceVersion: -1 }),
        "INVALID_INPUT",
      );
      expectRefused(
        await t.claimant.emit("sync", { sessionId: t.sessionId, sinceVersion: 1.5 }),
        "INVALID_INPUT",
      );
      expectRefused(await t.claimant.emit("session:open", { sessionId: "not-a-uuid" }), "INVALID_INPUT");
      expectRefused(
        await t.claimant.emit("command", {
          sessionId: t.sessionId,
          idempotencyKey: "short",
          command: { type: "Knock" },
        }),
        "INVALID_INPUT",
      );
      const long = await t.claimant.command(t.sessionId, {
        type: "PostMessage",
        room: "side:claimant",
        text: "x".repeat(4001),
      });
      expectRefused(long, "INVALID_INPUT");
      const rest = await t.claimant.http("GET", `/api/sessions/${t.sessionId}/events?since=-3`);
      expectHttpRefused(rest, 400, "INVALID_INPUT");
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });

    // ------------------------------------------------------------------ amounts

    const BAD_AMOUNTS: Array<{ label: string; amount: unknown; shown: unknown[] }> = [
      { label: "negative", amount: -DEMAND, shown: [-DEMAND, DEMAND] },
      { label: "zero", amount: 0, shown: [] },
      { label: "fractional cents", amount: DEMAND + 0.5, shown: [DEMAND + 0.5] },
      // JSON cannot carry NaN: a client's NaN arrives as null, or as the string a careless client writes.
      { label: "NaN (null on the wire)", amount: Number.NaN, shown: ["NaN", "null"] },
      { label: "NaN as a string", amount: "NaN", shown: ["NaN"] },
      { label: "a string of digits", amount: String(DEMAND + 3), shown: [DEMAND + 3] },
      { label: "one cent above the bound", amount: MAX_AMOUNT + 1, shown: [MAX_AMOUNT + 1] },
      { label: "1e300", amount: 1e300, shown: [String(1e300), "1e300"] },
    ];

    for (const bad of BAD_AMOUNTS) {
      it(`amount ${bad.label} -> INVALID_AMOUNT over the socket and REST; the side's number is untouched`, async () => {
        const before = await stored(t.claimant, t.sessionId);
        expectRefused(
          await t.claimant.command(t.sessionId, { type: "SetNumber", amount: bad.amount }),
          "INVALID_AMOUNT",
          ...bad.shown,
        );
        const rest = await t.claimant.http(
          "POST",
          `/api/sessions/${t.sessionId}/commands`,
          commandBody({ type: "SetNumber", amount: bad.amount }),
        );
        expectHttpRefused(rest, 400, "INVALID_AMOUNT", ...bad.shown);
        await expectUnchanged(t.claimant, t.sessionId, before);
        const own = await t.claimant.http("GET", `/api/sessions/${t.sessionId}/number`);
        expect((own.body as { own: { amount: number } }).own.amount).toBe(DEMAND);
        await expectServing();
      });
    }

    it("the mediator's amounts too: a bad proposal or bracket amount -> INVALID_AMOUNT", async () => {
      const before = await stored(t.claimant, t.sessionId);
      const answerBy = Date.now() + 60_000;
      expectRefused(
        await t.mediator.command(t.sessionId, { type: "PutMediatorProposal", amount: -5, answerBy }),
        "INVALID_AMOUNT",
      );
      expectRefused(
        await t.mediator.command(t.sessionId, { type: "RecordConveyed", from: "respondent", amount: 12.34 }),
        "INVALID_AMOUNT",
        12.34,
      );
      expectRefused(
        await t.mediator.command(t.sessionId, {
          type: "RecordBracket",
          from: "claimant",
          ourAmount: -DEMAND,
          theirAmount: 5_000_000,
        }),
        "INVALID_AMOUNT",
        DEMAND,
      );
      expectRefused(
        await t.mediator.command(t.sessionId, {
          type: "RecordBracket",
          from: "claimant",
          ourAmount: 9_000_000,
          theirAmount: "lots",
        }),
        "INVALID_AMOUNT",
        "lots",
      );
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });

    // ------------------------------------------------------------------ who may do what

    it("a stranger (signed in, not a member) -> SESSION_NOT_FOUND, the same answer as for no session at all", async () => {
      const stranger = await person("Stranger");
      await stranger.connect();
      const before = await stored(t.claimant, t.sessionId);
      const missing = randomUUID();
      const open = await stranger.emit("session:open", { sessionId: t.sessionId });
      const openMissing = await stranger.emit("session:open", { sessionId: missing });
      expectRefused(open, "SESSION_NOT_FOUND");
      expect(open).toEqual(openMissing);
      const cmd = await stranger.command(t.sessionId, { type: "SetNumber", amount: DEMAND + 4 });
      expectRefused(cmd, "SESSION_NOT_FOUND", DEMAND + 4);
      expect(cmd).toEqual(await stranger.command(missing, { type: "SetNumber", amount: DEMAND + 4 }));
      expectRefused(
        await stranger.command(t.sessionId, { type: "PostMessage", room: "joint", text: "hello" }),
        "SESSION_NOT_FOUND",
      );
      expectRefused(
        await stranger.emit("sync", { sessionId: t.sessionId, sinceVersion: 0 }),
        "SESSION_NOT_FOUND",
      );
      for (const route of ["", "/number", "/events?since=0", "/audit", "/invitations"]) {
        const r = await stranger.http("GET", `/api/sessions/${t.sessionId}${route}`);
        expectHttpRefused(r, 404, "SESSION_NOT_FOUND");
        expect(r.text).toBe((await stranger.http("GET", `/api/sessions/${missing}${route}`)).text);
      }
      const rest = await stranger.http(
        "POST",
        `/api/sessions/${t.sessionId}/commands`,
        commandBody({ type: "Knock" }),
      );
      expectHttpRefused(rest, 404, "SESSION_NOT_FOUND");
      expectHttpRefused(
        await stranger.http("POST", `/api/sessions/${t.sessionId}/invitations`, { role: "respondent" }),
        404,
        "SESSION_NOT_FOUND",
      );
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });

    it("a command for the other side (its side-only room, its caucus) -> WRONG_SIDE", async () => {
      const before = await stored(t.claimant, t.sessionId);
      for (const room of ["side:respondent", "caucus:respondent"]) {
        expectRefused(
          await t.claimant.command(t.sessionId, { type: "PostMessage", room, text: "Psst." }),
          "WRONG_SIDE",
        );
      }
      const rest = await t.respondent.http(
        "POST",
        `/api/sessions/${t.sessionId}/commands`,
        commandBody({ type: "PostMessage", room: "side:claimant", text: "Psst." }),
      );
      expectHttpRefused(rest, 403, "WRONG_SIDE");
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing(t.claimant);
    });

    it("a side consenting to its own smart-proposal request -> WRONG_SIDE", async () => {
      const s = await table({ step2DurationMs: 1500, step3DurationMs: 600_000, maxSessionMs: 1_800_000 });
      await ok(s.claimant.command(s.sessionId, { type: "SetNumber", amount: DEMAND }));
      await ok(s.respondent.command(s.sessionId, { type: "SetNumber", amount: LOW_OFFER }));
      await s.claimant.waitFor((e) => e.type === "Step3Opened", 5000);
      await ok(s.claimant.command(s.sessionId, { type: "RequestProposal" }));
      const requested = await s.respondent.waitFor((e) => e.type === "ProposalRequested");
      const requestId = (requested.payload as { event: { requestId: string } }).event.requestId;
      const before = await stored(s.claimant, s.sessionId);
      expectRefused(
        await s.claimant.command(s.sessionId, { type: "ConsentProposal", requestId }),
        "WRONG_SIDE",
      );
      const rest = await s.claimant.http(
        "POST",
        `/api/sessions/${s.sessionId}/commands`,
        commandBody({ type: "ConsentProposal", requestId }),
      );
      expectHttpRefused(rest, 403, "WRONG_SIDE");
      // Nor may the mediator consent for a side.
      expectRefused(
        await s.mediator.command(s.sessionId, { type: "ConsentProposal", requestId }),
        "WRONG_ROLE",
      );
      await expectUnchanged(s.claimant, s.sessionId, before);
      // The side that may decide still can.
      await ok(s.respondent.command(s.sessionId, { type: "DeclineProposal", requestId }));
      await expectServing();
    });

    it("a mediator entering a number (the wrong role) -> WRONG_ROLE", async () => {
      const before = await stored(t.claimant, t.sessionId);
      expectRefused(
        await t.mediator.command(t.sessionId, { type: "SetNumber", amount: DEMAND + 5 }),
        "WRONG_ROLE",
        DEMAND + 5,
      );
      expectRefused(await t.mediator.command(t.sessionId, { type: "Withdraw" }), "WRONG_ROLE");
      // And a side doing the mediator's work.
      expectRefused(await t.claimant.command(t.sessionId, { type: "OpenJointRoom" }), "WRONG_ROLE");
      expectHttpRefused(
        await t.mediator.http("GET", `/api/sessions/${t.sessionId}/number`),
        403,
        "WRONG_ROLE",
      );
      const rest = await t.mediator.http(
        "POST",
        `/api/sessions/${t.sessionId}/commands`,
        commandBody({ type: "SetNumber", amount: DEMAND + 5 }),
      );
      expectHttpRefused(rest, 403, "WRONG_ROLE", DEMAND + 5);
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });

    it("a view-only member entering a number -> NO_BIDDING_RIGHTS", async () => {
      const before = await stored(t.claimant, t.sessionId);
      expectRefused(
        await t.claimantClient.command(t.sessionId, { type: "SetNumber", amount: DEMAND + 6 }),
        "NO_BIDDING_RIGHTS",
        DEMAND + 6,
      );
      expectRefused(await t.claimantClient.command(t.sessionId, { type: "Withdraw" }), "NO_BIDDING_RIGHTS");
      const rest = await t.claimantClient.http(
        "POST",
        `/api/sessions/${t.sessionId}/commands`,
        commandBody({ type: "SetNumber", amount: DEMAND + 6 }),
      );
      expectHttpRefused(rest, 403, "NO_BIDDING_RIGHTS", DEMAND + 6);
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });

    it("a number in setup, or a proposal request in Step 2 (the wrong step) -> WRONG_STEP", async () => {
      // A session still in setup: terms neither approved nor skipped.
      const creator = await person("Setup Claimant");
      const other = await person("Setup Respondent");
      const created = await creator.http("POST", "/api/sessions", {
        title: "Doe v. Roe",
        creatorRole: "claimant",
        rules: LONG_RULES,
      });
      expect(created.status, created.text).toBe(201);
      const sessionId = (created.body as { view: { id: string } }).view.id;
      await accept(other, await invite(creator, sessionId, "respondent"));
      for (const p of [creator, other]) {
        await p.connect();
        await ok(p.emit("session:open", { sessionId }));
      }
      const before = await stored(creator, sessionId);
      expectRefused(
        await creator.command(sessionId, { type: "SetNumber", amount: DEMAND }),
        "WRONG_STEP",
        DEMAND,
      );
      expectRefused(await other.command(sessionId, { type: "Withdraw" }), "WRONG_STEP");
      const rest = await other.http(
        "POST",
        `/api/sessions/${sessionId}/commands`,
        commandBody({ type: "SetNumber", amount: LOW_OFFER }),
      );
      expectHttpRefused(rest, 409, "WRONG_STEP", LOW_OFFER);
      await expectUnchanged(creator, sessionId, before);
      // Step 2 is open on the quiet table: a smart proposal waits for Step 3.
      const quiet = await stored(t.claimant, t.sessionId);
      expectRefused(await t.claimant.command(t.sessionId, { type: "RequestProposal" }), "WRONG_STEP");
      await expectUnchanged(t.claimant, t.sessionId, quiet);
      await ok(other.command(sessionId, { type: "SkipTerms" }));
      await expectServing();
    });

    it("any command after the end (withdrawn) -> SESSION_ENDED, and nothing is stored", async () => {
      const s = await table();
      await ok(s.claimant.command(s.sessionId, { type: "SetNumber", amount: DEMAND }));
      await ok(s.respondent.command(s.sessionId, { type: "Withdraw" }));
      await s.claimant.waitFor((e) => e.type === "SessionEnded");
      const before = await stored(s.claimant, s.sessionId);
      const invitations = await s.claimant.http("GET", `/api/sessions/${s.sessionId}/invitations`);
      expectRefused(
        await s.claimant.command(s.sessionId, { type: "SetNumber", amount: DEMAND + 7 }),
        "SESSION_ENDED",
        DEMAND + 7,
      );
      expectRefused(await s.respondent.command(s.sessionId, { type: "Withdraw" }), "SESSION_ENDED");
      expectRefused(await s.mediator.command(s.sessionId, { type: "OpenJointRoom" }), "SESSION_ENDED");
      expectRefused(
        await s.claimant.command(s.sessionId, { type: "PostMessage", room: "side:claimant", text: "Hello?" }),
        "SESSION_ENDED",
      );
      const rest = await s.claimant.http(
        "POST",
        `/api/sessions/${s.sessionId}/commands`,
        commandBody({ type: "SetNumber", amount: DEMAND + 7 }),
      );
      expectHttpRefused(rest, 409, "SESSION_ENDED", DEMAND + 7);
      // An invitation after the end is refused and leaves no invitation behind.
      const late = await s.claimant.http("POST", `/api/sessions/${s.sessionId}/invitations`, {
        role: "respondent",
      });
      expectHttpRefused(late, 409, "SESSION_ENDED");
      expect((await s.claimant.http("GET", `/api/sessions/${s.sessionId}/invitations`)).text).toBe(
        invitations.text,
      );
      await expectUnchanged(s.claimant, s.sessionId, before);
      await expectServing();
    });

    // ------------------------------------------------------------------ tokens

    it("tokens: a correctly signed crafted token works (the control for the refusals below)", async () => {
      const p = await person("Token Control");
      const token = await signToken({ sub: p.user.id, exp: Math.floor(Date.now() / 1000) + 600 });
      const crafted = anonymous("Crafted", token);
      expect((await crafted.http("GET", "/api/me")).status).toBe(200);
      await crafted.connect();
      expect(crafted.socket?.connected).toBe(true);
    });

    it("an expired token -> 401 TOKEN_EXPIRED over REST, TOKEN_EXPIRED on the socket handshake", async () => {
      const before = await stored(t.claimant, t.sessionId);
      const token = await signToken({ sub: t.claimant.user.id, exp: Math.floor(Date.now() / 1000) - 60 });
      const expired = anonymous("Expired", token);
      expectHttpRefused(await expired.http("GET", "/api/me"), 401, "TOKEN_EXPIRED");
      const cmd = await expired.http(
        "POST",
        `/api/sessions/${t.sessionId}/commands`,
        commandBody({ type: "SetNumber", amount: DEMAND + 8 }),
      );
      expectHttpRefused(cmd, 401, "TOKEN_EXPIRED", DEMAND + 8);
      const err = await refusedHandshake(expired);
      expect(err.data?.code).toBe("TOKEN_EXPIRED");
      expectSentence(err.data?.message, []);
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });

    it("a forged token (signed with another secret) -> 401 TOKEN_INVALID, refused on the socket", async () => {
      const before = await stored(t.claimant, t.sessionId);
      const token = await signToken(
        { sub: t.claimant.user.id, exp: Math.floor(Date.now() / 1000) + 600 },
        randomBytes(32).toString("base64url"),
      );
      const forged = anonymous("Forger", token);
      expectHttpRefused(await forged.http("GET", `/api/sessions/${t.sessionId}`), 401, "TOKEN_INVALID");
      const cmd = await forged.http(
        "POST",
        `/api/sessions/${t.sessionId}/commands`,
        commandBody({ type: "Withdraw" }),
      );
      expectHttpRefused(cmd, 401, "TOKEN_INVALID");
      const err = await refusedHandshake(forged);
      expect(err.data?.code).toBe("TOKEN_INVALID");
      expectSentence(err.data?.message, []);
      // The right secret but another audience is not ours either.
      const otherApp = anonymous(
        "Other App",
        await signToken({
          sub: t.claimant.user.id,
          exp: Math.floor(Date.now() / 1000) + 600,
          aud: "another-app",
        }),
      );
      expectHttpRefused(await otherApp.http("GET", "/api/me"), 401, "TOKEN_INVALID");
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });

    it("an `alg: none` token -> 401 TOKEN_INVALID, refused on the socket", async () => {
      const before = await stored(t.claimant, t.sessionId);
      const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
      const iat = Math.floor(Date.now() / 1000);
      const claims = {
        sub: t.claimant.user.id,
        email: t.claimant.user.email,
        name: t.claimant.user.name,
        iss: "backchannel",
        aud: "backchannel-app",
        iat,
        exp: iat + 600,
      };
      const unsigned = anonymous("Unsigned", `${part({ alg: "none", typ: "at+jwt" })}.${part(claims)}.`);
      expectHttpRefused(await unsigned.http("GET", "/api/me"), 401, "TOKEN_INVALID");
      const cmd = await unsigned.http(
        "POST",
        `/api/sessions/${t.sessionId}/commands`,
        commandBody({ type: "Withdraw" }),
      );
      expectHttpRefused(cmd, 401, "TOKEN_INVALID");
      const err = await refusedHandshake(unsigned);
      expect(err.data?.code).toBe("TOKEN_INVALID");
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });

    it("no token, or one that is not a JWT -> UNAUTHENTICATED / TOKEN_INVALID", async () => {
      const nobody = anonymous("Nobody", "");
      expectHttpRefused(await nobody.http("GET", "/api/me"), 401, "UNAUTHENTICATED");
      expectHttpRefused(
        await nobody.http("POST", `/api/sessions/${t.sessionId}/commands`, commandBody({ type: "Withdraw" })),
        401,
        "UNAUTHENTICATED",
      );
      expect((await refusedHandshake(nobody)).data?.code).toBe("UNAUTHENTICATED");
      const garbage = anonymous("Garbage", "not.a.jwt");
      expectHttpRefused(await garbage.http("GET", "/api/me"), 401, "TOKEN_INVALID");
      expect((await refusedHandshake(garbage)).data?.code).toBe("TOKEN_INVALID");
      await expectServing();
    });

    // ------------------------------------------------------------------ origin

    it("a socket from a wrong origin is refused; the allowed origin connects", async () => {
      const visitor = await person("Visitor");
      const err = await refusedHandshake(visitor, "http://evil.example");
      expect(err.message).toMatch(/websocket error/);
      // Long-polling is refused the same way, with engine.io's 403.
      const polling = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, {
        headers: { origin: "http://evil.example" },
      });
      expect(polling.status).toBe(403);
      const allowedPolling = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, {
        headers: { origin: "http://allowed.example" },
      });
      expect(allowedPolling.status).toBe(200);
      await visitor.connect({ origin: "http://allowed.example" });
      expect(visitor.socket?.connected).toBe(true);
      await expectServing();
    });

    // ------------------------------------------------------------------ oversize payloads

    it("REST: a body above the 256kb limit -> 413 PAYLOAD_TOO_LARGE", async () => {
      const before = await stored(t.claimant, t.sessionId);
      const text = "x".repeat(300 * 1024);
      const r = await t.claimant.http(
        "POST",
        `/api/sessions/${t.sessionId}/commands`,
        commandBody({ type: "PostMessage", room: "side:claimant", text }),
      );
      expectHttpRefused(r, 413, "PAYLOAD_TOO_LARGE");
      expect(r.text.length).toBeLessThan(1000);
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });

    it("socket: a payload above the 256 KiB buffer disconnects that socket only; it can reconnect", async () => {
      const big = await person("Oversize Client");
      await big.connect();
      const before = await stored(t.claimant, t.sessionId);
      const closed = disconnected(big);
      big.socket?.emit("command", {
        sessionId: t.sessionId,
        idempotencyKey: `k-${randomUUID()}`,
        command: { type: "PostMessage", room: "joint", text: "x".repeat(300 * 1024) },
      });
      expect(await closed).toBe("transport close");
      expect(t.claimant.socket?.connected).toBe(true);
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
      await big.connect();
      expect(await big.emit("session:open", { sessionId: t.sessionId })).toMatchObject({
        ok: false,
        code: "SESSION_NOT_FOUND",
      });
    });

    // ------------------------------------------------------------------ flood

    it("a flood of events from one socket -> TOO_MANY_REQUESTS beyond the limit; others unaffected; it recovers", async () => {
      const s = await table();
      const before = await stored(s.claimant, s.sessionId);
      const started = Date.now();
      const flood = Array.from({ length: FLOOD }, (_, i) =>
        s.claimant.emit(
          "command",
          {
            sessionId: s.sessionId,
            idempotencyKey: `flood-${i}-${randomUUID()}`,
            command: { type: "PostMessage", room: "side:claimant", text: `Flood ${i}` },
          },
          20_000,
        ),
      );
      // Meanwhile the other side, on its own socket, is served.
      const otherSide = s.respondent.emit(
        "command",
        {
          sessionId: s.sessionId,
          idempotencyKey: `k-${randomUUID()}`,
          command: { type: "PostMessage", room: "side:respondent", text: "Meanwhile." },
        },
        20_000,
      );
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const acks: Ack[] = await Promise.all(flood);
      await ok(otherSide);
      const accepted = acks.filter((a) => a.ok).length;
      const limited = acks.filter((a) => !a.ok);
      expect(accepted).toBeGreaterThan(0);
      expect(accepted).toBeLessThanOrEqual(SOCKET_LIMIT.points);
      expect(limited.length).toBe(FLOOD - accepted);
      for (const refusal of limited) expectRefused(refusal, "TOO_MANY_REQUESTS");
      // A refused event stored nothing: exactly the accepted messages (and the other side's) were appended.
      const events = await s.claimant.http(
        "GET",
        `/api/sessions/${s.sessionId}/events?since=${before.version}`,
      );
      const appended = (events.body as { events: Array<{ event: { type: string; text?: string } }> }).events;
      expect(appended.filter((e) => e.event.text?.startsWith("Flood ")).length).toBe(accepted);
      const after = await stored(s.claimant, s.sessionId);
      // The respondent's side-only message is not in the claimant's stream: its position moved by the flood alone.
      expect(after.version).toBe(before.version + accepted);
      // After the window, the same socket is served again.
      const waitMs = started + SOCKET_LIMIT.seconds * 1000 + 300 - Date.now();
      if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
      await ok(
        s.claimant.command(s.sessionId, { type: "PostMessage", room: "side:claimant", text: "Calmer now." }),
      );
    });

    it("unknown events sent without an ack still spend the budget", async () => {
      const s = await table();
      const socket = s.mediator.socket;
      if (!socket) throw new Error("not connected");
      const started = Date.now();
      for (let i = 0; i < SOCKET_LIMIT.points; i++) socket.emit("no:such:event", { i });
      // Let them arrive before the next event, sent with an ack.
      await new Promise((r) => setTimeout(r, 200));
      expectRefused(await s.mediator.emit("no:such:event", {}), "TOO_MANY_REQUESTS");
      const waitMs = started + SOCKET_LIMIT.seconds * 1000 + 300 - Date.now();
      if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
      expectRefused(await s.mediator.emit("no:such:event", {}), "UNKNOWN_EVENT");
    });

    // ------------------------------------------------------------------ invitations

    it("a reused invitation -> 410 INVITE_USED; the first joiner keeps the place", async () => {
      const token = await invite(t.respondent, t.sessionId, "respondent");
      const first = await person("Second Adjuster");
      await accept(first, token);
      const before = await stored(t.claimant, t.sessionId);
      const listed = await t.claimant.http("GET", `/api/sessions/${t.sessionId}/invitations`);
      const second = await person("Latecomer");
      expectHttpRefused(await second.http("POST", "/api/invitations/accept", { token }), 410, "INVITE_USED");
      expectHttpRefused(await second.http("GET", `/api/invitations/${token}`), 410, "INVITE_USED");
      // The first joiner using it again is refused too, not joined twice.
      expectHttpRefused(await first.http("POST", "/api/invitations/accept", { token }), 410, "INVITE_USED");
      expectHttpRefused(await second.http("GET", `/api/sessions/${t.sessionId}`), 404, "SESSION_NOT_FOUND");
      expect((await t.claimant.http("GET", `/api/sessions/${t.sessionId}/invitations`)).text).toBe(
        listed.text,
      );
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });

    it("an expired invitation -> 410 INVITE_EXPIRED; nothing joins", async () => {
      const r = await t.claimant.http("POST", `/api/sessions/${t.sessionId}/invitations`, {
        role: "mediator",
        ttlHours: 1,
      });
      expect(r.status, r.text).toBe(201);
      const token = (r.body as { token: string }).token;
      const late = await person("Late Mediator");
      const before = await stored(t.claimant, t.sessionId);
      skewMs = 2 * 3_600_000;
      try {
        expectHttpRefused(
          await late.http("POST", "/api/invitations/accept", { token }),
          410,
          "INVITE_EXPIRED",
        );
        expectHttpRefused(await late.http("GET", `/api/invitations/${token}`), 410, "INVITE_EXPIRED");
      } finally {
        skewMs = 0;
      }
      expectHttpRefused(await late.http("GET", `/api/sessions/${t.sessionId}`), 404, "SESSION_NOT_FOUND");
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
      // The control: with the clock back inside the hour, the very same token still works.
      await accept(late, token);
    });

    it("a garbage invitation token -> 404 INVITE_INVALID (400 INVALID_INPUT when not even token-shaped)", async () => {
      const before = await stored(t.claimant, t.sessionId);
      const stranger = await person("Guesser");
      const guessed = randomBytes(32).toString("base64url");
      expectHttpRefused(
        await stranger.http("POST", "/api/invitations/accept", { token: guessed }),
        404,
        "INVITE_INVALID",
      );
      expectHttpRefused(await stranger.http("GET", `/api/invitations/${guessed}`), 404, "INVITE_INVALID");
      expectHttpRefused(
        await stranger.http("POST", "/api/invitations/accept", { token: `${"A".repeat(42)}!` }),
        404,
        "INVITE_INVALID",
      );
      expectHttpRefused(await stranger.http("GET", "/api/invitations/nope"), 404, "INVITE_INVALID");
      expectHttpRefused(
        await stranger.http("POST", "/api/invitations/accept", { token: "short" }),
        400,
        "INVALID_INPUT",
      );
      expectHttpRefused(
        await stranger.http("POST", "/api/invitations/accept", { token: 42 }),
        400,
        "INVALID_INPUT",
      );
      await expectUnchanged(t.claimant, t.sessionId, before);
      await expectServing();
    });
  });
}
