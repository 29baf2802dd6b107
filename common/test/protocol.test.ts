import { describe, expect, it } from "vitest";
import {
  acceptInvitationSchema,
  commandRequestSchema,
  createInvitationSchema,
  createSessionSchema,
  errorBodySchema,
  signInSchema,
  signUpSchema,
} from "../src/api";
import { MAX_AMOUNT_CENTS } from "../src/money";
import {
  ackSchema,
  CLIENT_COMMAND_TYPES,
  clientCommandSchema,
  clientEventSchemas,
  commandAckSchema,
  commandPayloadSchema,
  errorAck,
  invalidInputAck,
  PROTOCOL_VERSION,
  REST_ONLY_COMMAND_TYPES,
  sessionEventPushSchema,
  sessionOpenSchema,
  syncAckSchema,
  syncPayloadSchema,
  TEXT_LIMITS,
} from "../src/protocol";

const SESSION_ID = "3f1c6c2e-9a51-4d5e-8f0b-2b7f6f1d9a10";
const KEY = "key-0001-abcdef";

/** One valid example of every client command. */
const GOOD_COMMANDS: Record<string, Record<string, unknown>> = {
  UpdateSetup: {
    type: "UpdateSetup",
    title: "Smith v. Jones",
    startAt: 1_700_000_000_000,
    rules: { step3BonusPercent: 5 },
  },
  EditTerms: { type: "EditTerms", baseVersion: 1, text: "Mutual release; confidentiality." },
  ApproveTerms: { type: "ApproveTerms", version: 2 },
  SkipTerms: { type: "SkipTerms" },
  SetNumber: { type: "SetNumber", amount: 12_345_678 },
  Withdraw: { type: "Withdraw" },
  Cancel: { type: "Cancel" },
  RequestProposal: { type: "RequestProposal" },
  ConsentProposal: { type: "ConsentProposal", requestId: "req_1" },
  DeclineProposal: { type: "DeclineProposal", requestId: "req_1" },
  AnswerProposal: { type: "AnswerProposal", proposalId: "prop-1", accept: true },
  PutMediatorProposal: { type: "PutMediatorProposal", amount: 5_000_000, answerBy: 1_700_000_600_000 },
  SetMediatorLocation: {
    type: "SetMediatorLocation",
    location: "with_claimant",
    until: null,
    note: "10 minutes",
  },
  Knock: { type: "Knock" },
  OpenJointRoom: { type: "OpenJointRoom" },
  CloseJointRoom: { type: "CloseJointRoom" },
  PostMessage: { type: "PostMessage", room: "caucus:respondent", text: "Can we talk?" },
  RecordConveyed: {
    type: "RecordConveyed",
    from: "respondent",
    amount: 1_000_000,
    note: null,
    counters: null,
  },
  RecordBracket: {
    type: "RecordBracket",
    from: "claimant",
    ourAmount: 9_000_000,
    theirAmount: 5_000_000,
    note: "bracket",
    counters: "item_7",
  },
  UpdateLedgerItem: { type: "UpdateLedgerItem", itemId: "item_7", state: "accepted" },
};

function accepts(cmd: unknown): boolean {
  return clientCommandSchema.safeParse(cmd).success;
}

describe("client commands: good payloads", () => {
  it("has an example for every client command type and accepts each", () => {
    expect(Object.keys(GOOD_COMMANDS).sort()).toEqual([...CLIENT_COMMAND_TYPES].sort());
    for (const cmd of Object.values(GOOD_COMMANDS)) expect(accepts(cmd), JSON.stringify(cmd)).toBe(true);
  });

  it("fills optional nullable fields with null and trims text", () => {
    const parsed = clientCommandSchema.parse({ type: "SetMediatorLocation", location: "break", note: "  " });
    expect(parsed).toEqual({ type: "SetMediatorLocation", location: "break", until: null, note: null });
    const msg = clientCommandSchema.parse({ type: "PostMessage", room: "joint", text: "  hello  " });
    expect(msg).toEqual({ type: "PostMessage", room: "joint", text: "hello" });
    const conveyed = clientCommandSchema.parse({ type: "RecordConveyed", from: "claimant", amount: 100 });
    expect(conveyed).toEqual({
      type: "RecordConveyed",
      from: "claimant",
      amount: 100,
      note: null,
      counters: null,
    });
  });

  it("accepts the amount bounds themselves: 1 cent and 10^13 cents", () => {
    expect(accepts({ type: "SetNumber", amount: 1 })).toBe(true);
    expect(accepts({ type: "SetNumber", amount: MAX_AMOUNT_CENTS })).toBe(true);
    expect(MAX_AMOUNT_CENTS).toBe(10 ** 13);
  });
});

describe("client commands: refused", () => {
  it("refuses REST-only commands, Tick and unknown types", () => {
    for (const type of [...REST_ONLY_COMMAND_TYPES, "Tick", "BidSet", "setnumber", "", "__proto__"]) {
      expect(accepts({ type }), type).toBe(false);
    }
    expect(accepts({})).toBe(false);
    expect(accepts(null)).toBe(false);
    expect(accepts("SetNumber")).toBe(false);
    expect(accepts([{ type: "Knock" }])).toBe(false);
  });

  it("refuses a missing field in every command that has one", () => {
    for (const [type, cmd] of Object.entries(GOOD_COMMANDS)) {
      for (const field of Object.keys(cmd)) {
        if (field === "type") continue;
        const { [field]: _dropped, ...rest } = cmd;
        const optional =
          (type === "UpdateSetup" && ["title", "startAt", "rules"].includes(field)) ||
          ["note", "counters", "until"].includes(field);
        expect(accepts(rest), `${type} without ${field}`).toBe(optional);
      }
    }
  });

  it("refuses an extra field on every command, including actor and server-generated ids", () => {
    for (const [type, cmd] of Object.entries(GOOD_COMMANDS)) {
      expect(accepts({ ...cmd, extra: 1 }), `${type} + extra`).toBe(false);
      expect(accepts({ ...cmd, actor: "someone-else" }), `${type} + actor`).toBe(false);
    }
    expect(accepts({ type: "RequestProposal", requestId: "req_1" })).toBe(false);
    expect(accepts({ ...GOOD_COMMANDS.PostMessage, messageId: "m1" })).toBe(false);
    expect(accepts({ ...GOOD_COMMANDS.RecordConveyed, itemId: "i1" })).toBe(false);
    expect(accepts({ ...GOOD_COMMANDS.PutMediatorProposal, proposalId: "p1" })).toBe(false);
    expect(accepts({ type: "UpdateSetup", rules: { currency: "USD", surprise: 1 } })).toBe(false);
  });

  const badAmounts: Array<[string, unknown]> = [
    ["negative", -100],
    ["zero", 0],
    ["negative zero", -0],
    ["fractional", 100.5],
    ["tiny fraction", 0.01],
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["string", "12345678"],
    ["null", null],
    ["boolean", true],
    ["object", { cents: 100 }],
    ["above 10^13", MAX_AMOUNT_CENTS + 1],
    ["far above", 1e20],
    ["unsafe integer", 2 ** 53 + 2],
  ];

  it.each(badAmounts)("refuses a %s amount in every amount field", (_name, amount) => {
    expect(accepts({ type: "SetNumber", amount })).toBe(false);
    expect(accepts({ ...GOOD_COMMANDS.PutMediatorProposal, amount })).toBe(false);
    expect(accepts({ ...GOOD_COMMANDS.RecordConveyed, amount })).toBe(false);
    expect(accepts({ ...GOOD_COMMANDS.RecordBracket, ourAmount: amount })).toBe(false);
    expect(accepts({ ...GOOD_COMMANDS.RecordBracket, theirAmount: amount })).toBe(false);
  });

  it("refuses oversize and empty text", () => {
    const long = (n: number) => "x".repeat(n);
    expect(accepts({ type: "PostMessage", room: "joint", text: long(TEXT_LIMITS.message + 1) })).toBe(false);
    expect(accepts({ type: "PostMessage", room: "joint", text: long(TEXT_LIMITS.message) })).toBe(true);
    expect(accepts({ type: "PostMessage", room: "joint", text: "   " })).toBe(false);
    expect(accepts({ type: "EditTerms", baseVersion: 1, text: long(TEXT_LIMITS.termsText + 1) })).toBe(false);
    expect(accepts({ type: "UpdateSetup", title: long(TEXT_LIMITS.title + 1) })).toBe(false);
    expect(accepts({ type: "UpdateSetup", title: "  " })).toBe(false);
    expect(
      accepts({ type: "SetMediatorLocation", location: "joint", note: long(TEXT_LIMITS.note + 1) }),
    ).toBe(false);
  });

  it("refuses values outside the enums and malformed ids and times", () => {
    expect(accepts({ type: "PostMessage", room: "caucus:mediator", text: "hi" })).toBe(false);
    expect(accepts({ type: "PostMessage", room: "side:claimant ", text: "hi" })).toBe(false);
    expect(accepts({ type: "SetMediatorLocation", location: "with_you" })).toBe(false);
    expect(accepts({ type: "RecordConveyed", from: "mediator", amount: 100 })).toBe(false);
    expect(accepts({ type: "UpdateLedgerItem", itemId: "i1", state: "deleted" })).toBe(false);
    expect(accepts({ type: "AnswerProposal", proposalId: "p1", accept: "yes" })).toBe(false);
    expect(accepts({ type: "AnswerProposal", proposalId: "p 1", accept: true })).toBe(false);
    expect(accepts({ type: "ConsentProposal", requestId: "" })).toBe(false);
    expect(accepts({ type: "ConsentProposal", requestId: "x".repeat(101) })).toBe(false);
    expect(accepts({ type: "PutMediatorProposal", amount: 100, answerBy: -1 })).toBe(false);
    expect(accepts({ type: "PutMediatorProposal", amount: 100, answerBy: 1.5 })).toBe(false);
    expect(accepts({ type: "ApproveTerms", version: -1 })).toBe(false);
    expect(accepts({ type: "ApproveTerms", version: "2" })).toBe(false);
  });
});

describe("socket payloads", () => {
  const goodCommand = { sessionId: SESSION_ID, idempotencyKey: KEY, command: GOOD_COMMANDS.SetNumber };

  it("accepts well-formed payloads for every client event", () => {
    expect(clientEventSchemas["session:open"].safeParse({ sessionId: SESSION_ID }).success).toBe(true);
    expect(clientEventSchemas["session:leave"].safeParse({ sessionId: SESSION_ID }).success).toBe(true);
    expect(clientEventSchemas.command.safeParse(goodCommand).success).toBe(true);
    expect(clientEventSchemas.sync.safeParse({ sessionId: SESSION_ID, sinceVersion: 0 }).success).toBe(true);
    expect(PROTOCOL_VERSION).toBe(3);
  });

  it("refuses a session id that is not a UUID, and extra fields", () => {
    expect(sessionOpenSchema.safeParse({ sessionId: "abc" }).success).toBe(false);
    expect(sessionOpenSchema.safeParse({}).success).toBe(false);
    expect(sessionOpenSchema.safeParse({ sessionId: SESSION_ID, role: "mediator" }).success).toBe(false);
  });

  it("bounds the idempotency key to 8..100 printable characters", () => {
    const withKey = (idempotencyKey: unknown) =>
      commandPayloadSchema.safeParse({ ...goodCommand, idempotencyKey });
    expect(withKey("1234567").success).toBe(false);
    expect(withKey("12345678").success).toBe(true);
    expect(withKey("k".repeat(100)).success).toBe(true);
    expect(withKey("k".repeat(101)).success).toBe(false);
    expect(withKey("has spaces in it").success).toBe(false);
    expect(withKey(12345678).success).toBe(false);
    expect(
      commandPayloadSchema.safeParse({ sessionId: SESSION_ID, command: GOOD_COMMANDS.Knock }).success,
    ).toBe(false);
  });

  it("refuses a command payload whose command is bad or that carries extras", () => {
    expect(
      commandPayloadSchema.safeParse({ ...goodCommand, command: { type: "SetNumber", amount: 0 } }).success,
    ).toBe(false);
    expect(commandPayloadSchema.safeParse({ ...goodCommand, actor: "u1" }).success).toBe(false);
  });

  it("refuses sync with a negative, fractional or missing version", () => {
    for (const sinceVersion of [-1, 1.5, "3", null, undefined]) {
      expect(syncPayloadSchema.safeParse({ sessionId: SESSION_ID, sinceVersion }).success).toBe(false);
    }
  });
});

describe("acks and pushes", () => {
  it("command acks: ok with version and optional own amount, or a coded error", () => {
    expect(commandAckSchema.safeParse({ ok: true, version: 3 }).success).toBe(true);
    expect(commandAckSchema.safeParse({ ok: true, version: 3, own: { amount: 12_345_678 } }).success).toBe(
      true,
    );
    expect(
      commandAckSchema.safeParse({ ok: false, code: "RATE_LIMITED", message: "Too many changes" }).success,
    ).toBe(true);
    expect(commandAckSchema.safeParse({ ok: false, code: "NOT_A_CODE", message: "x" }).success).toBe(false);
    const limited = errorAck("RATE_LIMITED", "Too many changes", 1_700_000_000_000);
    expect(commandAckSchema.safeParse(limited).success).toBe(true);
    expect(errorAck("WRONG_STEP", "Not now")).toEqual({ ok: false, code: "WRONG_STEP", message: "Not now" });
    expect(commandAckSchema.safeParse({ ...limited, retryAt: "soon" }).success).toBe(false);
    expect(ackSchema.safeParse({ ok: true, anything: 1 }).success).toBe(true);
    expect(ackSchema.safeParse({ ok: "yes" }).success).toBe(false);
  });

  const head = (position: number) => ({
    sessionId: SESSION_ID,
    stream: "respondent",
    position,
    head: "a".repeat(64),
    signature: "A".repeat(86),
    keyId: "0123456789abcdef",
  });

  it("sync acks: events or a snapshot, each with the signed head of the position it reaches", () => {
    const event = { type: "Step2Closed", deal: false, at: 5 };
    expect(
      syncAckSchema.safeParse({ ok: true, version: 9, events: [{ version: 9, event }], head: head(9) })
        .success,
    ).toBe(true);
    expect(
      syncAckSchema.safeParse({
        ok: true,
        version: 9,
        snapshot: { id: SESSION_ID, version: 9 },
        head: head(9),
      }).success,
    ).toBe(true);
    // No head, no answer: a party always gets the server's signed word for where it stands.
    expect(syncAckSchema.safeParse({ ok: true, version: 9, events: [{ version: 9, event }] }).success).toBe(
      false,
    );
    expect(
      syncAckSchema.safeParse({
        ok: true,
        version: 9,
        events: [{ version: 9, event: { at: 1 } }],
        head: head(9),
      }).success,
    ).toBe(false);
    expect(
      syncAckSchema.safeParse({ ok: true, version: 9, events: [], head: { ...head(9), signature: "short" } })
        .success,
    ).toBe(false);
  });

  it("a push's heads: signed alone, or per commit with a salt and exactly three leaves, nothing else", () => {
    const event = { type: "Step2Closed", deal: false, at: 5 };
    const perCommit = { ...head(9), salt: "e".repeat(64), leaves: ["1", "2", "3"].map((d) => d.repeat(64)) };
    const push = (h: unknown) =>
      sessionEventPushSchema.safeParse({ sessionId: SESSION_ID, version: 9, head: h, event }).success;
    expect(push(head(9))).toBe(true);
    expect(push(perCommit)).toBe(true);
    expect(push({ ...perCommit, leaves: perCommit.leaves.slice(0, 2) })).toBe(false);
    expect(push({ ...perCommit, leaves: [...perCommit.leaves, "4".repeat(64)] })).toBe(false);
    expect(push({ ...perCommit, salt: "short" })).toBe(false);
    expect(push({ ...perCommit, salt: undefined })).toBe(false);
    expect(push({ ...perCommit, extra: 1 })).toBe(false);
  });

  it("a room push refuses any event that still carries a confidential amount", () => {
    const push = (event: unknown) =>
      sessionEventPushSchema.safeParse({
        sessionId: SESSION_ID,
        version: 4,
        head: head(4),
        event,
      });
    const bare = { type: "NumberSet", side: "claimant", by: "u1", step: 2, at: 10 };
    expect(push(bare).success).toBe(true);
    expect(push({ ...bare, amount: 12_345_678 }).success).toBe(false);
    expect(push({ ...bare, amount: null }).success).toBe(false);
    expect(
      push({ type: "SmartProposalMade", requestId: "r", proposalId: "p", answerBy: 1, at: 1, amount: 5 })
        .success,
    ).toBe(false);
    expect(push({ type: "BidSet", side: "claimant", by: "u1", step: 2, at: 10, amount: 1 }).success).toBe(
      false,
    );
  });

  it("turns a zod refusal into a coded error that does not echo the value", () => {
    const secret = 98_765_432.5;
    const result = commandPayloadSchema.safeParse({
      sessionId: SESSION_ID,
      idempotencyKey: KEY,
      command: { type: "SetNumber", amount: secret },
    });
    expect(result.success).toBe(false);
    if (result.success) return;
    const ack = invalidInputAck(result.error);
    expect(ack.ok).toBe(false);
    expect(ack.code).toBe("INVALID_AMOUNT");
    expect(ack.message).toContain("command.amount");
    expect(JSON.stringify(ack)).not.toContain("98765432");
    const other = commandPayloadSchema.safeParse({
      sessionId: "x",
      idempotencyKey: KEY,
      command: { type: "Knock" },
    });
    expect(other.success || invalidInputAck(other.error).code).toBe("INVALID_INPUT");
  });
});

describe("REST payloads", () => {
  it("sign up: trims and lower-cases the email, bounds password and name", () => {
    const ok = signUpSchema.parse({
      email: "  Ann@Example.COM ",
      password: "correct horse",
      displayName: " Ann ",
    });
    expect(ok).toEqual({ email: "ann@example.com", password: "correct horse", displayName: "Ann" });
    const base = { email: "a@b.co", password: "12345678", displayName: "A" };
    expect(signUpSchema.safeParse(base).success).toBe(true);
    expect(signUpSchema.safeParse({ ...base, password: "1234567" }).success).toBe(false);
    expect(signUpSchema.safeParse({ ...base, password: "x".repeat(201) }).success).toBe(false);
    expect(signUpSchema.safeParse({ ...base, displayName: "" }).success).toBe(false);
    expect(signUpSchema.safeParse({ ...base, displayName: "x".repeat(101) }).success).toBe(false);
    expect(signUpSchema.safeParse({ ...base, email: "not-an-email" }).success).toBe(false);
    expect(signUpSchema.safeParse({ ...base, admin: true }).success).toBe(false);
    expect(signUpSchema.safeParse({ email: "a@b.co", password: "12345678" }).success).toBe(false);
  });

  it("sign in: email and password required, nothing else", () => {
    expect(signInSchema.safeParse({ email: "a@b.co", password: "x" }).success).toBe(true);
    expect(signInSchema.safeParse({ email: "a@b.co", password: "" }).success).toBe(false);
    expect(signInSchema.safeParse({ email: "a@b.co" }).success).toBe(false);
    expect(signInSchema.safeParse({ email: "a@b.co", password: "x", remember: true }).success).toBe(false);
  });

  it("create session: title and role required; rules validated; terms bounded", () => {
    const base = { title: "Smith v. Jones", creatorRole: "mediator" };
    expect(createSessionSchema.safeParse(base).success).toBe(true);
    expect(
      createSessionSchema.safeParse({
        ...base,
        startAt: 1_700_000_000_000,
        rules: { currency: "EUR" },
        termsText: "T",
      }).success,
    ).toBe(true);
    expect(createSessionSchema.safeParse({ creatorRole: "mediator" }).success).toBe(false);
    expect(createSessionSchema.safeParse({ ...base, creatorRole: "judge" }).success).toBe(false);
    expect(createSessionSchema.safeParse({ ...base, rules: { step3BonusPercent: 11 } }).success).toBe(false);
    expect(createSessionSchema.safeParse({ ...base, rules: { currency: "XYZ" } }).success).toBe(false);
    expect(createSessionSchema.safeParse({ ...base, termsText: "x".repeat(100_001) }).success).toBe(false);
    expect(createSessionSchema.safeParse({ ...base, startAt: "tomorrow" }).success).toBe(false);
    expect(createSessionSchema.safeParse({ ...base, owner: "u1" }).success).toBe(false);
  });

  it("create invitation: defaults canBid true and 168 hours; bounds the lifetime", () => {
    expect(createInvitationSchema.parse({ role: "claimant" })).toEqual({
      role: "claimant",
      canBid: true,
      ttlHours: 168,
    });
    expect(
      createInvitationSchema.safeParse({ role: "respondent", canBid: false, email: "x@y.co", ttlHours: 1 })
        .success,
    ).toBe(true);
    for (const ttlHours of [0, 721, 1.5, "24"]) {
      expect(createInvitationSchema.safeParse({ role: "claimant", ttlHours }).success).toBe(false);
    }
    expect(createInvitationSchema.safeParse({}).success).toBe(false);
    expect(createInvitationSchema.safeParse({ role: "claimant", email: "nope" }).success).toBe(false);
    expect(createInvitationSchema.safeParse({ role: "claimant", sessionId: "s" }).success).toBe(false);
  });

  it("accept invitation and command request", () => {
    expect(acceptInvitationSchema.safeParse({ token: "t".repeat(32) }).success).toBe(true);
    expect(acceptInvitationSchema.safeParse({ token: "" }).success).toBe(false);
    expect(acceptInvitationSchema.safeParse({ token: "t".repeat(32), role: "mediator" }).success).toBe(false);
    expect(
      commandRequestSchema.safeParse({ idempotencyKey: KEY, command: GOOD_COMMANDS.SetNumber }).success,
    ).toBe(true);
    expect(
      commandRequestSchema.safeParse({ idempotencyKey: KEY, command: { type: "SetNumber", amount: -1 } })
        .success,
    ).toBe(false);
    expect(
      commandRequestSchema.safeParse({ idempotencyKey: KEY, command: { type: "CreateSession" } }).success,
    ).toBe(false);
  });

  it("error body: a stable code and a message", () => {
    expect(
      errorBodySchema.safeParse({ error: { code: "SESSION_NOT_FOUND", message: "No such session" } }).success,
    ).toBe(true);
    expect(errorBodySchema.safeParse({ error: { code: "NOPE", message: "x" } }).success).toBe(false);
    expect(errorBodySchema.safeParse({ code: "INTERNAL", message: "x" }).success).toBe(false);
  });
});
