// One schema per command (src/engine/commands.ts): the engine, the socket and REST parse with the same schemas, so
// they agree on every limit, trim the same text, and refuse a missing or a bad amount the same way.
import { describe, expect, it } from "vitest";
import { commandRequestSchema, createSessionSchema } from "../src/api";
import type { CommandInput } from "../src/engine";
import {
  COMMAND_SCHEMAS,
  commandSchema,
  decide,
  MAX_ID_LENGTH,
  MAX_NAME_LENGTH,
  replay,
  TEXT_LIMITS,
} from "../src/engine";
import { amountTooLargeMessage, MAX_AMOUNT_CENTS } from "../src/money";
import {
  CLIENT_COMMAND_TYPES,
  clientCommandSchema,
  commandPayloadSchema,
  SERVER_FILLED_IDS,
} from "../src/protocol";
import { seededRandom } from "../src/random";
import { DEFAULT_RULES, STEP2_LONGER_THAN_SESSION_MESSAGE } from "../src/rules";

const SESSION_ID = "00000000-0000-4000-8000-000000000000";
const ctx = () => ({ now: 1_000, random: seededRandom(7) });
const create = (fields: Record<string, unknown> = {}): CommandInput =>
  ({
    type: "CreateSession",
    actor: "creator",
    actorName: "Ann",
    sessionId: SESSION_ID,
    title: "A dispute",
    creatorRole: "mediator",
    startAt: 0,
    termsText: "",
    ...fields,
  }) as CommandInput;

describe("one schema per command", () => {
  it("the socket's and REST's command schemas are the engine's, without actor and the ids the server fills in", () => {
    for (const type of CLIENT_COMMAND_TYPES) {
      const engine = Object.keys(COMMAND_SCHEMAS[type].shape).filter(
        (k) => k !== "actor" && k !== (SERVER_FILLED_IDS as Record<string, string>)[type],
      );
      const option = clientCommandSchema.options.find((o) => o.shape.type.value === type);
      expect(Object.keys(option?.shape ?? {}).sort(), type).toEqual(engine.sort());
      for (const key of engine)
        expect((option?.shape as Record<string, unknown> | undefined)?.[key], `${type}.${key}`).toBe(
          (COMMAND_SCHEMAS[type].shape as Record<string, unknown>)[key],
        );
    }
    expect(commandRequestSchema.shape.command).toBe(clientCommandSchema);
    expect(commandPayloadSchema.shape.command).toBe(clientCommandSchema);
  });

  it("the engine keeps text as the wire does: trimmed", () => {
    const d = decide(
      null,
      create({ title: "  A dispute ", termsText: "  Terms \n", actorName: " Ann " }),
      ctx(),
    );
    expect(d.ok && d.events[0]).toMatchObject({ title: "A dispute", termsText: "Terms", creatorName: "Ann" });
    const wire = createSessionSchema.parse({
      title: "  A dispute ",
      creatorRole: "mediator",
      termsText: "  Terms \n",
    });
    expect(wire).toMatchObject({ title: "A dispute", termsText: "Terms" });
  });

  it("the engine refuses ids and names at the wire's limits (one constant each)", () => {
    expect(MAX_NAME_LENGTH).toBe(TEXT_LIMITS.displayName);
    expect(decide(null, create({ actorName: "x".repeat(MAX_NAME_LENGTH) }), ctx()).ok).toBe(true);
    expect(decide(null, create({ actorName: "x".repeat(MAX_NAME_LENGTH + 1) }), ctx())).toMatchObject({
      ok: false,
      code: "INVALID_INPUT",
    });
    expect(decide(null, create({ actor: "x".repeat(MAX_ID_LENGTH) }), ctx()).ok).toBe(true);
    expect(decide(null, create({ actor: "x".repeat(MAX_ID_LENGTH + 1) }), ctx())).toMatchObject({
      ok: false,
      code: "INVALID_INPUT",
    });
  });

  it("a missing and a bad amount take one path to INVALID_AMOUNT, on every path", () => {
    const engine = (amount: unknown) =>
      decide(
        null,
        { type: "SetNumber", actor: "u1", ...(amount === undefined ? {} : { amount }) } as never,
        ctx(),
      );
    const socket = (amount: unknown) =>
      commandPayloadSchema.safeParse({
        sessionId: SESSION_ID,
        idempotencyKey: "key-0001",
        command: { type: "SetNumber", ...(amount === undefined ? {} : { amount }) },
      });
    for (const amount of [undefined, "12", 1.5, 0, -3, MAX_AMOUNT_CENTS + 1]) {
      expect(engine(amount), String(amount)).toMatchObject({ ok: false, code: "INVALID_AMOUNT" });
      const wire = socket(amount);
      expect(wire.success, String(amount)).toBe(false);
      expect(wire.error?.issues[0]?.path, String(amount)).toEqual(["command", "amount"]);
    }
    // With a session, the engine names the bound in the session's currency (the wire has no currency yet).
    const created = decide(null, create({ rules: { currency: "JPY" } }), ctx());
    if (!created.ok) throw new Error("not created");
    const state = replay(created.events);
    const tooLarge = decide(state, { type: "SetNumber", actor: "u1", amount: MAX_AMOUNT_CENTS + 1 }, ctx());
    expect(tooLarge).toEqual({
      ok: false,
      code: "INVALID_AMOUNT",
      message: `${amountTooLargeMessage("JPY")}.`,
    });
  });

  it("creation rules are resolved once, by the schema: defaults filled in, the cross-field rule INVALID_RULES", () => {
    const parsed = commandSchema.parse(create({ rules: { maxChangesPerDay: 3 } }));
    expect(parsed.type === "CreateSession" && parsed.rules).toEqual({
      ...DEFAULT_RULES,
      maxChangesPerDay: 3,
    });
    expect(commandSchema.parse(create()).type === "CreateSession").toBe(true);
    const refused = decide(
      null,
      create({
        rules: { step2DurationMs: DEFAULT_RULES.maxSessionMs, maxSessionMs: DEFAULT_RULES.maxSessionMs },
      }),
      ctx(),
    );
    expect(refused).toEqual({ ok: false, code: "INVALID_RULES", message: STEP2_LONGER_THAN_SESSION_MESSAGE });
    expect(decide(null, create({ rules: { maxChangesPerDay: 0 } }), ctx())).toMatchObject({
      code: "INVALID_RULES",
    });
  });

  it("a refusal names the field, never the value it was sent", () => {
    const secret = "SECRET-7349817";
    const amount = 98_765_432_101_234;
    const refusals = [
      decide(null, create({ title: `${secret}${"x".repeat(TEXT_LIMITS.title)}` }), ctx()),
      decide(null, create({ actor: `${secret}!` }), ctx()),
      decide(null, create({ creatorRole: secret }), ctx()),
      decide(null, { type: "SetNumber", actor: "u1", amount } as never, ctx()),
      decide(
        null,
        {
          type: "RecordBracket",
          actor: "u1",
          itemId: "i",
          from: "claimant",
          ourAmount: 5,
          theirAmount: amount,
        } as never,
        ctx(),
      ),
    ];
    for (const r of refusals) {
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.message).not.toContain(secret);
      expect(r.message).not.toContain(String(amount));
      expect(r.message.replace(/,/g, "")).not.toContain(String(amount).slice(0, 8));
    }
  });
});
