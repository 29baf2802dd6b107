// docs/protocol.md is what client authors build from; this test keeps its tables true to the code.
// It parses the tables and compares them with what the server actually has:
//   - the error-code table (section 9) against ERROR_CODES and the HTTP status each code answers with;
//   - the limits tables (section 12) against the shared constants and zod schemas (each schema is tried at its
//     bounds) and against the configuration defaults;
//   - the session rules table (POST /api/sessions) against DEFAULT_RULES and RULE_BOUNDS;
//   - the REST route table (section 3) against the routes the Express app registers, and its auth column against
//     what the app answers without a token;
//   - the socket event tables (section 4) against the gateway's handlers and the server's emits;
//   - the command tables (section 7) against the client command schema.
// Every failure names the row (protocol.md:<line>) and what to change. A failure here usually means the code
// changed: update docs/protocol.md (or, if the code is wrong, the code).
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  acceptInvitationSchema,
  amountSchema,
  CLIENT_COMMAND_TYPES,
  clientCommandSchema,
  clientEventSchemas,
  commandPayloadSchema,
  commandRequestSchema,
  createInvitationSchema,
  createSessionSchema,
  DEFAULT_RULES,
  decide,
  ERROR_CODES,
  type ErrorCode,
  emailSchema,
  idempotencyKeySchema,
  idSchema,
  MAX_AMOUNT_CENTS,
  MAX_ID_LENGTH,
  MAX_NAME_LENGTH,
  REST_ONLY_COMMAND_TYPES,
  RULE_BOUNDS,
  seededRandom,
  signInSchema,
  signUpSchema,
  TEXT_LIMITS,
  termsTextSchema,
  titleSchema,
} from "@backchannel/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, loadConfig } from "../../src/config";
import { AppError } from "../../src/errors";
import { createHttpApp, type HttpDeps } from "../../src/http/app";
import { silentLogger } from "../../src/log";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../../..");
const DOC = "docs/protocol.md";
const doc = readFileSync(path.join(repo, DOC), "utf8");
const docLines = doc.split("\n");
const source = (file: string) => readFileSync(path.join(repo, file), "utf8");

// ---------------------------------------------------------------- markdown

interface Row {
  /** 1-based line in protocol.md */
  line: number;
  cells: string[];
}
interface Table {
  line: number;
  header: string[];
  rows: Row[];
}

const at = (line: number) => `${DOC}:${line}`;

/** Cells of a table line; `\|` inside a cell is a literal bar. */
function cellsOf(line: string): string[] {
  const inner = line
    .trim()
    .replace(/^\|/, "")
    .replace(/(?<!\\)\|$/, "");
  return inner.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, "|"));
}

/** The lines (with their numbers) from a heading to the next heading of the same or a higher level. */
function section(heading: RegExp): { line: number; text: Array<{ line: number; text: string }> } {
  const start = docLines.findIndex((l) => heading.test(l));
  if (start < 0) throw new Error(`${DOC} has no heading matching ${heading}: the test expects one`);
  const level = /^#+/.exec(docLines[start] as string)?.[0].length ?? 1;
  const text: Array<{ line: number; text: string }> = [];
  for (let i = start + 1; i < docLines.length; i++) {
    const l = docLines[i] as string;
    const m = /^(#+)\s/.exec(l);
    if (m && (m[1] as string).length <= level) break;
    text.push({ line: i + 1, text: l });
  }
  return { line: start + 1, text };
}

function tablesIn(heading: RegExp): Table[] {
  const { text } = section(heading);
  const tables: Table[] = [];
  for (let i = 0; i + 1 < text.length; i++) {
    const head = text[i] as { line: number; text: string };
    const sep = (text[i + 1] as { text: string }).text;
    if (!head.text.trim().startsWith("|") || !/^\s*\|(\s*:?-+:?\s*\|)+\s*$/.test(sep)) continue;
    const table: Table = { line: head.line, header: cellsOf(head.text), rows: [] };
    let j = i + 2;
    for (; j < text.length && (text[j] as { text: string }).text.trim().startsWith("|"); j++) {
      const r = text[j] as { line: number; text: string };
      table.rows.push({ line: r.line, cells: cellsOf(r.text) });
    }
    tables.push(table);
    i = j - 1;
  }
  return tables;
}

/** The table under `heading` whose header starts with these columns. */
function table(heading: RegExp, columns: string[]): Table {
  const found = tablesIn(heading).find((t) => columns.every((c, i) => t.header[i] === c));
  if (!found) {
    throw new Error(
      `${DOC}: no table with columns | ${columns.join(" | ")} | under the heading matching ${heading}. ` +
        "The docs test reads that table; restore it (or update the test if the table moved).",
    );
  }
  return found;
}

const ticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);

/** The number a cell starts with ("172,800,000 (48 h)" -> 172800000); null for an empty cell. */
function numberIn(cell: string): number | null | "not a number" {
  if (cell.trim() === "") return null;
  const m = /^\s*(-?\d[\d,]*)/.exec(cell);
  return m ? Number((m[1] as string).replace(/,/g, "")) : "not a number";
}

const fmt = (n: number | null) => (n === null ? "(empty)" : n.toLocaleString("en-US"));

/** Names in `a` that `b` lacks. */
const minus = (a: Iterable<string>, b: Iterable<string>) => {
  const bs = new Set(b);
  return [...new Set(a)].filter((x) => !bs.has(x));
};

function duplicates(rows: Array<{ key: string; line: number }>): string[] {
  const seen = new Map<string, number>();
  const out: string[] = [];
  for (const r of rows) {
    const first = seen.get(r.key);
    if (first !== undefined) out.push(`${at(r.line)}: ${r.key} is listed twice (also at line ${first})`);
    else seen.set(r.key, r.line);
  }
  return out;
}

// ---------------------------------------------------------------- a real app, with stub dependencies

const GOOD_TOKEN = "docs-test-token";
const STUB_USER = { id: "00000000-0000-4000-8000-000000000001", email: "docs@example.com", name: "Docs" };
/** A dependency the tested routes never call: reading its parts is allowed (an app may wire them up), calling throws. */
const unused = (what: string): unknown =>
  new Proxy(() => {}, {
    get(_target, prop) {
      if (prop === "then" || typeof prop === "symbol") return undefined;
      return unused(`${what}.${String(prop)}`);
    },
    apply() {
      throw new Error(`the docs test's stub ${what} was used`);
    },
  });

let server: Server;
let base: string;
const app = createHttpApp({
  config: loadConfig({ NODE_ENV: "test" }),
  db: unused("db") as HttpDeps["db"],
  tokens: {
    sign: async () => ({ token: GOOD_TOKEN, expiresAt: Date.now() + 3_600_000 }),
    verify: async (token: string) =>
      token === GOOD_TOKEN
        ? { ok: true, user: STUB_USER, expiresAt: Date.now() + 3_600_000 }
        : { ok: false, code: "TOKEN_INVALID" },
  } as unknown as HttpDeps["tokens"],
  sessions: unused("session service") as HttpDeps["sessions"],
  signer: unused("signer") as HttpDeps["signer"],
  metrics: {
    registry: { contentType: "text/plain", metrics: async () => "" },
  } as unknown as HttpDeps["metrics"],
  log: silentLogger,
  ready: async () => ({ ok: true, checks: {} }),
  unsubscribe: { verify: () => null },
});

beforeAll(async () => {
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

interface RouteLister {
  listRoutes(): Array<{ path: unknown; methods: string[] | undefined; router: RouteLister | undefined }>;
}

/** "METHOD /path" for every route the app registers, mounted routers included (router 2.3's listRoutes). */
function registeredRoutes(): string[] {
  const root = (app as unknown as { router?: Partial<RouteLister> }).router;
  if (typeof root?.listRoutes !== "function") {
    throw new Error(
      "Express no longer exposes app.router.listRoutes(): update registeredRoutes() in this test",
    );
  }
  const out: string[] = [];
  const walk = (router: RouteLister, prefix: string) => {
    for (const r of router.listRoutes()) {
      if (typeof r.path !== "string")
        throw new Error(`a route with a non-string path under ${prefix || "/"}`);
      const full = prefix + (r.path === "/" && r.router ? "" : r.path);
      if (r.router) walk(r.router, full);
      for (const m of r.methods ?? []) if (m !== "HEAD") out.push(`${m} ${full}`);
    }
  };
  walk(root as RouteLister, "");
  return out;
}

/** Routes of the web client, which section 1 describes ("every other path"), not the route table. */
const WEB_CLIENT_ROUTES = ["GET /", "GET /{*rest}"];

// ---------------------------------------------------------------- 9. error codes

/**
 * Statuses set by a route rather than by AppError's map: app.ts answers an unknown /api path with an explicit
 * 404 UNKNOWN_EVENT (AppError's map says 400, but nothing throws UNKNOWN_EVENT as an AppError). The test below
 * checks the 404 against the running app.
 */
const STATUS_SET_BY_ROUTE: Partial<Record<ErrorCode, number>> = { UNKNOWN_EVENT: 404 };

/** Facts a row must keep mentioning (they were once wrong in the docs). */
const ERROR_ROW_MUST_MENTION: Partial<Record<ErrorCode, string[]>> = {
  CONFLICT: ["idempotency key"],
  FORBIDDEN_ORIGIN: ["ALLOWED_ORIGINS", "403"],
};

describe("protocol.md section 9: the error-code table", () => {
  const t = table(/^## 9\. Error codes/, ["code", "HTTP"]);
  const rows = t.rows.map((r) => ({ key: ticked(r.cells[0] ?? "")[0] ?? r.cells[0] ?? "", line: r.line, r }));

  it("lists exactly the codes of ERROR_CODES (common/src/errors.ts), each once", () => {
    const problems = [
      ...minus(
        ERROR_CODES,
        rows.map((r) => r.key),
      ).map(
        (c) =>
          `${at(t.line)}: missing row for \`${c}\` (it is in ERROR_CODES): add | \`${c}\` | <HTTP> | ... |`,
      ),
      ...rows
        .filter((r) => !(ERROR_CODES as readonly string[]).includes(r.key))
        .map((r) => `${at(r.line)}: extra row \`${r.key}\`: not in ERROR_CODES (common/src/errors.ts)`),
      ...duplicates(rows),
    ];
    expect(problems).toEqual([]);
  });

  it("gives each code the HTTP status the server answers with", () => {
    const problems: string[] = [];
    for (const { key, line, r } of rows) {
      if (!(ERROR_CODES as readonly string[]).includes(key)) continue;
      const code = key as ErrorCode;
      const expected = STATUS_SET_BY_ROUTE[code] ?? new AppError(code, "").status;
      const documented = numberIn(r.cells[1] ?? "");
      if (documented !== expected)
        problems.push(
          `${at(line)}: \`${code}\` is documented as HTTP ${documented}; the server answers ${expected}`,
        );
    }
    expect(problems).toEqual([]);
  });

  it("keeps the facts some rows must state", () => {
    const problems: string[] = [];
    for (const [code, phrases] of Object.entries(ERROR_ROW_MUST_MENTION)) {
      const row = rows.find((r) => r.key === code);
      for (const phrase of phrases ?? []) {
        if (row && !(row.r.cells[2] ?? "").includes(phrase))
          problems.push(`${at(row.line)}: the \`${code}\` row's meaning should mention "${phrase}"`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("an unknown /api route really is 404 UNKNOWN_EVENT (the status the table gives it)", async () => {
    const r = await fetch(`${base}/api/no-such-route`, {
      headers: { authorization: `Bearer ${GOOD_TOKEN}` },
    });
    expect(r.status).toBe(STATUS_SET_BY_ROUTE.UNKNOWN_EVENT);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("UNKNOWN_EVENT");
  });
});

// ---------------------------------------------------------------- 12. limits

type Probe = (n: number) => boolean;
interface KnownLimit {
  min: number | null;
  max: number | null;
  /** does the wire schema accept a value of this size? */
  probe?: Probe;
  /** the same limit where each path parses it: the engine (decide), the socket's and REST's payload schemas */
  paths?: { engine?: Probe; socket?: Probe; rest?: Probe };
}

// ---- the paths a limit reaches: each must refuse exactly where its constant says (one constant, one schema)
const UUID = "00000000-0000-4000-8000-000000000000";
const SHAPE_CODES = new Set(["INVALID_INPUT", "INVALID_AMOUNT", "INVALID_RULES"]);
/** decide with no session: a command its schema accepts gets past parsing (to SESSION_NOT_FOUND, or a creation). */
const engineAccepts =
  (make: (n: number) => Record<string, unknown>): Probe =>
  (n) => {
    const d = decide(null, { actor: "u1", ...make(n) } as never, { now: 1_000, random: seededRandom(1) });
    return d.ok || !SHAPE_CODES.has(d.code);
  };
const create = (fields: Record<string, unknown>) => ({
  type: "CreateSession",
  actorName: "Ann",
  sessionId: UUID,
  title: "T",
  creatorRole: "mediator",
  startAt: 0,
  termsText: "",
  ...fields,
});
const socketAccepts =
  (make: (n: number) => unknown): Probe =>
  (n) =>
    commandPayloadSchema.safeParse({ sessionId: UUID, idempotencyKey: "key-0001", command: make(n) }).success;
const restCommandAccepts =
  (make: (n: number) => unknown): Probe =>
  (n) =>
    commandRequestSchema.safeParse({ idempotencyKey: "key-0001", command: make(n) }).success;
const restCreateAccepts =
  (make: (n: number) => Record<string, unknown>): Probe =>
  (n) =>
    createSessionSchema.safeParse({ title: "T", creatorRole: "mediator", ...make(n) }).success;

interface Parser {
  safeParse(x: unknown): { success: boolean };
}
const accepts =
  (schema: Parser, make: (n: number) => unknown): Probe =>
  (n) =>
    schema.safeParse(make(n)).success;
const chars = (n: number) => "x".repeat(n);

/** minLength/maxLength or minValue/maxValue of a zod schema, looking through pipes, defaults and nullables. */
function boundsOf(schema: unknown): { min: number | null; max: number | null } {
  let s = schema as Record<string, unknown>;
  for (let i = 0; i < 10; i++) {
    if (typeof s.maxLength === "number" || typeof s.minLength === "number")
      return { min: (s.minLength as number | null) ?? null, max: (s.maxLength as number | null) ?? null };
    if (typeof s.maxValue === "number" || typeof s.minValue === "number")
      return { min: (s.minValue as number | null) ?? null, max: (s.maxValue as number | null) ?? null };
    if (s.in) s = s.in as Record<string, unknown>;
    else if (typeof s.unwrap === "function") s = (s.unwrap as () => Record<string, unknown>).call(s);
    else break;
  }
  throw new Error("the docs test cannot read this schema's bounds: update boundsOf()");
}

const commandField = (type: string, field: string): Parser => {
  const option = clientCommandSchema.options.find((o) => o.shape.type.value === type);
  const shape = option?.shape as Record<string, Parser> | undefined;
  const f = shape?.[field];
  if (!f) throw new Error(`clientCommandSchema has no ${type}.${field}: update the docs test`);
  return f;
};

function sourceConstant(file: string, name: string): number {
  const m = new RegExp(`const ${name}\\s*=\\s*([\\d_]+)\\s*;`).exec(source(file));
  if (!m) throw new Error(`the docs test reads \`${name}\` from ${file} and did not find it there`);
  return Number((m[1] as string).replace(/_/g, ""));
}

function knownLimits(): Record<string, KnownLimit> {
  const fromSchema = (schema: Parser & object, make: (n: number) => unknown): KnownLimit => ({
    ...boundsOf(schema),
    probe: accepts(schema, make),
  });
  const known: Record<string, KnownLimit> = {
    MAX_AMOUNT_CENTS: {
      min: 1,
      max: MAX_AMOUNT_CENTS,
      probe: accepts(amountSchema, (n) => n),
      paths: {
        engine: engineAccepts((n) => ({ type: "SetNumber", amount: n })),
        socket: socketAccepts((n) => ({ type: "SetNumber", amount: n })),
        rest: restCommandAccepts((n) => ({ type: "SetNumber", amount: n })),
      },
    },
    "TEXT_LIMITS.title": {
      min: 1,
      max: TEXT_LIMITS.title,
      probe: accepts(titleSchema, chars),
      paths: {
        engine: engineAccepts((n) => create({ title: chars(n) })),
        socket: socketAccepts((n) => ({ type: "UpdateSetup", title: chars(n) })),
        rest: restCreateAccepts((n) => ({ title: chars(n) })),
      },
    },
    "TEXT_LIMITS.termsText": {
      min: 0,
      max: TEXT_LIMITS.termsText,
      probe: accepts(termsTextSchema, chars),
      paths: {
        engine: engineAccepts((n) => ({ type: "EditTerms", baseVersion: 0, text: chars(n) })),
        socket: socketAccepts((n) => ({ type: "EditTerms", baseVersion: 0, text: chars(n) })),
        rest: restCreateAccepts((n) => ({ termsText: chars(n) })),
      },
    },
    "TEXT_LIMITS.message": {
      min: 1,
      max: TEXT_LIMITS.message,
      probe: accepts(commandField("PostMessage", "text"), chars),
      paths: {
        engine: engineAccepts((n) => ({
          type: "PostMessage",
          messageId: "m1",
          room: "joint",
          text: chars(n),
        })),
        socket: socketAccepts((n) => ({ type: "PostMessage", room: "joint", text: chars(n) })),
        rest: restCommandAccepts((n) => ({ type: "PostMessage", room: "joint", text: chars(n) })),
      },
    },
    "TEXT_LIMITS.note": {
      min: 0,
      max: TEXT_LIMITS.note,
      probe: accepts(commandField("SetMediatorLocation", "note"), chars),
      paths: {
        engine: engineAccepts((n) => ({ type: "SetMediatorLocation", location: "joint", note: chars(n) })),
        socket: socketAccepts((n) => ({ type: "SetMediatorLocation", location: "joint", note: chars(n) })),
        rest: restCommandAccepts((n) => ({ type: "SetMediatorLocation", location: "joint", note: chars(n) })),
      },
    },
    "TEXT_LIMITS.displayName": {
      min: 1,
      max: TEXT_LIMITS.displayName,
      probe: accepts(signUpSchema.shape.displayName, chars),
      paths: {
        // the name an account creates a session and joins with is its sign-up name: one limit for both
        engine: engineAccepts((n) => create({ actorName: chars(n) })),
        rest: (n) =>
          signUpSchema.safeParse({ email: "a@example.com", password: "password1", displayName: chars(n) })
            .success,
      },
    },
    idSchema: {
      ...fromSchema(idSchema, chars),
      paths: {
        engine: engineAccepts((n) => ({ type: "ConsentProposal", requestId: chars(n) })),
        socket: socketAccepts((n) => ({ type: "ConsentProposal", requestId: chars(n) })),
        rest: restCommandAccepts((n) => ({ type: "ConsentProposal", requestId: chars(n) })),
      },
    },
    idempotencyKeySchema: fromSchema(idempotencyKeySchema, (n) => "!".repeat(n)),
    emailSchema: fromSchema(emailSchema, (n) => `${"a".repeat(Math.max(1, n - 12))}@example.com`),
    "signUpSchema.password": fromSchema(signUpSchema.shape.password, chars),
    "signInSchema.password": fromSchema(signInSchema.shape.password, chars),
    "createInvitationSchema.ttlHours": fromSchema(createInvitationSchema.shape.ttlHours, (n) => n),
    "acceptInvitationSchema.token": fromSchema(acceptInvitationSchema.shape.token, chars),
    SYNC_EVENT_LIMIT: {
      min: null,
      max: sourceConstant("server/src/sessions/service.ts", "SYNC_EVENT_LIMIT"),
    },
  };
  // A new text limit needs a row even before this test knows which schema to try it on.
  for (const [key, max] of Object.entries(TEXT_LIMITS))
    known[`TEXT_LIMITS.${key}`] ??= { min: null, max: max as number };
  return known;
}

describe("protocol.md section 12: the limits table", () => {
  const t = table(/^## 12\. Limits/, ["limit", "min", "max", "unit", "enforced by"]);
  const rows = t.rows.map((r) => ({ key: ticked(r.cells[4] ?? "")[0] ?? "", line: r.line, r }));
  const known = knownLimits();

  it("has one row for each known limit, and no unknown ones", () => {
    const problems = [
      ...minus(
        Object.keys(known),
        rows.map((r) => r.key),
      ).map(
        (k) =>
          `${at(t.line)}: missing row for \`${k}\` (${fmt(known[k]?.min ?? null)}..${fmt(known[k]?.max ?? null)})`,
      ),
      ...rows
        .filter((r) => !(r.key in known))
        .map(
          (r) =>
            `${at(r.line)}: the row enforced by "${r.r.cells[4]}" names nothing the test knows: name the constant or schema in backticks, and add it to knownLimits() in this test`,
        ),
      ...duplicates(rows),
    ];
    expect(problems).toEqual([]);
  });

  it("gives the same min and max as the code", () => {
    const problems: string[] = [];
    for (const { key, line, r } of rows) {
      const k = known[key];
      if (!k) continue;
      const min = numberIn(r.cells[1] ?? "");
      const max = numberIn(r.cells[2] ?? "");
      if (min !== k.min)
        problems.push(`${at(line)}: \`${key}\` min is "${r.cells[1]}"; the code says ${fmt(k.min)}`);
      if (max !== k.max)
        problems.push(`${at(line)}: \`${key}\` max is "${r.cells[2]}"; the code says ${fmt(k.max)}`);
    }
    expect(problems).toEqual([]);
  });

  it("each wire schema enforces exactly those bounds (accepts min and max, refuses one beyond)", () => {
    const problems: string[] = [];
    for (const [key, k] of Object.entries(known)) {
      if (!k.probe) continue;
      const check = (n: number, want: boolean) => {
        if (k.probe?.(n) !== want)
          problems.push(
            `\`${key}\`: the wire schema ${want ? "refuses" : "accepts"} ${fmt(n)}, but the code's bounds are ${fmt(k.min)}..${fmt(k.max)}: the schema and the constant disagree`,
          );
      };
      if (k.max !== null) {
        check(k.max, true);
        check(k.max + 1, false);
      }
      if (k.min !== null) {
        check(k.min, true);
        if (k.min > 0) check(k.min - 1, false);
      }
    }
    expect(problems).toEqual([]);
  });

  it("the engine, the socket and REST each refuse exactly where the constant says (one schema per limit)", () => {
    const problems: string[] = [];
    for (const [key, k] of Object.entries(known)) {
      for (const [where, probe] of Object.entries(k.paths ?? {})) {
        const check = (n: number, want: boolean) => {
          if (probe(n) !== want)
            problems.push(
              `\`${key}\` over ${where}: ${want ? "refuses" : "accepts"} ${fmt(n)}, but the constant's bounds are ${fmt(k.min)}..${fmt(k.max)}`,
            );
        };
        if (k.max !== null) {
          check(k.max, true);
          check(k.max + 1, false);
        }
        if (k.min !== null && k.min > 0) {
          check(k.min, true);
          check(k.min - 1, false);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("the engine's limits are the wire's own constants, and the page quotes them right", () => {
    const problems: string[] = [];
    const engine = { MAX_NAME_LENGTH, MAX_ID_LENGTH };
    if (MAX_NAME_LENGTH !== TEXT_LIMITS.displayName)
      problems.push(
        `MAX_NAME_LENGTH (${MAX_NAME_LENGTH}) is not TEXT_LIMITS.displayName: two limits for one name`,
      );
    const idMax = boundsOf(idSchema).max ?? 0;
    if (MAX_ID_LENGTH !== idMax)
      problems.push(`MAX_ID_LENGTH (${MAX_ID_LENGTH}) is not idSchema's ${idMax}: two limits for one id`);
    for (const [name, value] of Object.entries(engine)) {
      const m = new RegExp(`\`${name}\` \\((\\d[\\d,]*)\\)`).exec(doc);
      if (!m) problems.push(`${DOC} section 12 should quote \`${name}\` (${value})`);
      else if (Number((m[1] as string).replace(/,/g, "")) !== value)
        problems.push(`${DOC} quotes \`${name}\` as ${m[1]}; the code says ${value}`);
    }
    expect(problems).toEqual([]);
  });
});

describe("protocol.md section 12: the configurable limits", () => {
  const t = table(/^## 12\. Limits/, ["variable", "default"]);
  const config = loadConfig({});
  const rate = (r: { points: number; durationSeconds: number }) => `${r.points} per ${r.durationSeconds} s`;
  /** the default as the table writes it (the start of the cell), and its first number for prose mentions */
  const defaults: Record<string, { text: string; first: number | string }> = {
    BODY_LIMIT: { text: `\`${config.bodyLimit}\``, first: config.bodyLimit },
    SOCKET_MAX_BUFFER: {
      text: config.socketMaxBuffer.toLocaleString("en-US"),
      first: config.socketMaxBuffer,
    },
    SOCKET_RATE_LIMIT: { text: rate(config.socketRateLimit), first: config.socketRateLimit.points },
    LOGIN_RATE_LIMIT: { text: rate(config.loginRateLimit), first: config.loginRateLimit.points },
    TOKEN_TTL_SECONDS: {
      text: config.tokenTtlSeconds.toLocaleString("en-US"),
      first: config.tokenTtlSeconds,
    },
  };
  const rows = t.rows.map((r) => ({ key: ticked(r.cells[0] ?? "")[0] ?? "", line: r.line, r }));

  it("lists each of these variables once, with the default server/src/config.ts has", () => {
    const problems = [
      ...minus(
        Object.keys(defaults),
        rows.map((r) => r.key),
      ).map((k) => `${at(t.line)}: missing row for \`${k}\` (default ${defaults[k]?.text})`),
      ...duplicates(rows),
    ];
    for (const { key, line, r } of rows) {
      if (!(CONFIG_VARIABLES as readonly string[]).includes(key)) {
        problems.push(`${at(line)}: \`${key}\` is not a variable server/src/config.ts reads`);
        continue;
      }
      const d = defaults[key];
      if (!d) {
        problems.push(
          `${at(line)}: the test does not know how to read \`${key}\`'s default: add it to \`defaults\``,
        );
        continue;
      }
      if (!(r.cells[1] ?? "").startsWith(d.text))
        problems.push(
          `${at(line)}: \`${key}\` default is "${r.cells[1]}"; server/src/config.ts says ${d.text}`,
        );
    }
    expect(problems).toEqual([]);
  });

  it("every `VARIABLE` ... default N in the page's prose agrees with the configuration", () => {
    const problems: string[] = [];
    for (const [name, d] of Object.entries(defaults)) {
      const re = new RegExp(`\`${name}\`[^.|]{0,80}?\\bdefault\\b[\\s\`]*(\\d[\\d,]*(?:kb|mb|b)?)`, "g");
      for (const m of doc.matchAll(re)) {
        const line = doc.slice(0, m.index).split("\n").length;
        const raw = m[1] as string;
        const value = typeof d.first === "number" ? Number(raw.replace(/,/g, "")) : raw;
        if (value !== d.first)
          problems.push(
            `${at(line)}: "${m[0].replace(/\s+/g, " ")}" says ${raw}; server/src/config.ts's default is ${d.first}`,
          );
      }
    }
    expect(problems).toEqual([]);
  });
});

// ---------------------------------------------------------------- 3. session rules

describe("protocol.md section 3: the session rules table", () => {
  const t = table(/^### POST \/api\/sessions$/, ["rule", "default", "min", "max"]);
  const rows = t.rows.map((r) => ({ key: ticked(r.cells[0] ?? "")[0] ?? "", line: r.line, r }));

  it("lists every rule with DEFAULT_RULES' default and RULE_BOUNDS' bounds", () => {
    const problems = [
      ...minus(
        Object.keys(DEFAULT_RULES),
        rows.map((r) => r.key),
      ).map((k) => `${at(t.line)}: missing row for the rule \`${k}\``),
      ...rows
        .filter((r) => !(r.key in DEFAULT_RULES))
        .map((r) => `${at(r.line)}: extra row \`${r.key}\`: not a rule in DEFAULT_RULES`),
      ...duplicates(rows),
    ];
    for (const { key, line, r } of rows) {
      if (!(key in DEFAULT_RULES)) continue;
      const want = DEFAULT_RULES[key as keyof typeof DEFAULT_RULES];
      const bounds = (RULE_BOUNDS as Record<string, { min: number; max: number }>)[key];
      const got =
        typeof want === "string"
          ? JSON.parse(ticked(r.cells[1] ?? "")[0] ?? "null")
          : numberIn(r.cells[1] ?? "");
      if (got !== want)
        problems.push(`${at(line)}: \`${key}\` default is "${r.cells[1]}"; DEFAULT_RULES has ${want}`);
      const min = numberIn(r.cells[2] ?? "");
      const max = numberIn(r.cells[3] ?? "");
      if (min !== (bounds?.min ?? null))
        problems.push(
          `${at(line)}: \`${key}\` min is "${r.cells[2]}"; RULE_BOUNDS has ${fmt(bounds?.min ?? null)}`,
        );
      if (max !== (bounds?.max ?? null))
        problems.push(
          `${at(line)}: \`${key}\` max is "${r.cells[3]}"; RULE_BOUNDS has ${fmt(bounds?.max ?? null)}`,
        );
    }
    expect(problems).toEqual([]);
  });
});

// ---------------------------------------------------------------- 3. REST routes

describe("protocol.md section 3: the REST route table", () => {
  const t = table(/^## 3\. REST routes/, ["method", "path", "auth"]);
  const rows = t.rows.flatMap((r) =>
    ticked(r.cells[1] ?? "").map((p) => ({
      key: `${(r.cells[0] ?? "").trim()} ${p.replace(/\?.*$/, "")}`,
      auth: (r.cells[2] ?? "").trim(),
      line: r.line,
    })),
  );

  it("lists exactly the routes server/src/http/app.ts registers", () => {
    const registered = minus(registeredRoutes(), WEB_CLIENT_ROUTES);
    expect(
      registered.filter((r) => r.includes(" /api/")).length,
      "found no /api routes: registeredRoutes() is broken",
    ).toBeGreaterThan(0);
    const problems = [
      ...minus(
        registered,
        rows.map((r) => r.key),
      ).map(
        (k) =>
          `${at(t.line)}: missing row for ${k} (the server registers it): add | ${k.replace(" ", " | `")}\` | yes/no | ... |`,
      ),
      ...rows
        .filter((r) => !registered.includes(r.key))
        .map((r) => `${at(r.line)}: extra row ${r.key}: the server registers no such route`),
      ...duplicates(rows),
    ];
    expect(problems).toEqual([]);
  });

  it("says auth yes exactly for the routes that answer 401 UNAUTHENTICATED without a token", async () => {
    const problems: string[] = [];
    for (const r of rows) {
      const [method, route] = r.key.split(" ") as [string, string];
      if (!registeredRoutes().includes(r.key)) continue;
      const url = route.replace(/:token\b/, "x".repeat(43)).replace(/:\w+/g, STUB_USER.id);
      const res = await fetch(`${base}${url}`, {
        method,
        headers: { "content-type": "application/json" },
        body: method === "GET" || method === "DELETE" ? undefined : "{}",
      });
      const body = (await res.text()).slice(0, 500);
      const needsAuth = res.status === 401 && body.includes('"UNAUTHENTICATED"');
      if (r.auth !== (needsAuth ? "yes" : "no"))
        problems.push(
          `${at(r.line)}: ${r.key} says auth "${r.auth}"; without a token it answers ${res.status}, so it should say "${needsAuth ? "yes" : "no"}"`,
        );
    }
    expect(problems).toEqual([]);
  });
});

// ---------------------------------------------------------------- 4. the socket

function filesUnder(dir: string): string[] {
  return readdirSync(path.join(repo, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => path.relative(repo, path.join(e.parentPath, e.name)));
}

describe("protocol.md section 4: the socket event tables", () => {
  it("the events a client sends are exactly the gateway's handlers and clientEventSchemas", () => {
    const t = table(/^### Events the client sends/, ["event", "payload"]);
    const rows = t.rows.map((r) => ({ key: ticked(r.cells[0] ?? "")[0] ?? "", line: r.line }));
    const handled = [...source("server/src/realtime/gateway.ts").matchAll(/\bhandle\(\s*"([^"]+)"/g)].map(
      (m) => m[1] as string,
    );
    expect(handled.length, 'found no handle("...") calls in gateway.ts: update this test').toBeGreaterThan(0);
    const schemas = Object.keys(clientEventSchemas);
    const problems = [
      ...minus(
        handled,
        rows.map((r) => r.key),
      ).map((e) => `${at(t.line)}: missing row for \`${e}\` (gateway.ts handles it)`),
      ...minus(schemas, handled).map(
        (e) => `clientEventSchemas has \`${e}\` but gateway.ts has no handle("${e}")`,
      ),
      ...rows
        .filter((r) => !handled.includes(r.key))
        .map((r) => `${at(r.line)}: extra row \`${r.key}\`: gateway.ts handles no such event`),
      ...duplicates(rows),
    ];
    expect(problems).toEqual([]);
  });

  it("the pushes are exactly the events the server emits", () => {
    const t = table(/^### Pushes from the server/, ["event", "payload"]);
    const rows = t.rows.map((r) => ({ key: ticked(r.cells[0] ?? "")[0] ?? "", line: r.line }));
    const emitted = new Map<string, string>();
    for (const file of filesUnder("server/src"))
      for (const m of source(file).matchAll(/\.emit\(\s*"([^"]+)"/g)) emitted.set(m[1] as string, file);
    const problems = [
      ...minus(
        emitted.keys(),
        rows.map((r) => r.key),
      ).map((e) => `${at(t.line)}: missing row for \`${e}\` (emitted in ${emitted.get(e)})`),
      ...rows
        .filter((r) => !emitted.has(r.key))
        .map((r) => `${at(r.line)}: extra row \`${r.key}\`: nothing in server/src emits it`),
      ...duplicates(rows),
    ];
    expect(problems).toEqual([]);
  });
});

// ---------------------------------------------------------------- 7. commands

describe("protocol.md section 7: the command tables", () => {
  it("list exactly the client commands of clientCommandSchema, and name every REST-only one", () => {
    const tables = tablesIn(/^## 7\. Commands/).filter((t) => t.header[0] === "command");
    const rows = tables.flatMap((t) =>
      t.rows.flatMap((r) => ticked(r.cells[0] ?? "").map((key) => ({ key, line: r.line }))),
    );
    const problems = [
      ...minus(
        CLIENT_COMMAND_TYPES,
        rows.map((r) => r.key),
      ).map((c) => `${DOC} section 7: no command table has a row for \`${c}\` (a client command)`),
      ...rows
        .filter((r) => !(CLIENT_COMMAND_TYPES as string[]).includes(r.key))
        .map((r) => `${at(r.line)}: \`${r.key}\` is not a client command`),
      ...duplicates(rows),
    ];
    const text = section(/^## 7\. Commands/)
      .text.map((l) => l.text)
      .join("\n");
    for (const c of REST_ONLY_COMMAND_TYPES)
      if (!text.includes(`\`${c}\``))
        problems.push(`${DOC} section 7 does not name the REST-only command \`${c}\``);
    expect(problems).toEqual([]);
  });
});
