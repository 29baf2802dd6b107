// What a command batch sends the database (sessions/commands.ts, runBatch), on each backend: a command on a session
// this node committed last is one statement, with no lock, BEGIN or COMMIT, and the notices it makes go in that same
// statement; when another node moved the session meanwhile, that statement fails whole (its guard), nothing of it is
// stored, and the command runs again with the session locked.
import { generateKeyPairSync } from "node:crypto";
import { secureRandom } from "@backchannel/common";
import pino from "pino";
import { expect, it } from "vitest";
import { Notifications } from "../../src/notify/outbox";
import { SessionRepository } from "../../src/sessions/repository";
import { type Committed, SessionService } from "../../src/sessions/service";
import type { Db, Queryable } from "../../src/store/db";
import { createHeadSigner } from "../../src/store/signing";
import type { Scheduler } from "../../src/timers/scheduler";
import { createUser, MASTER_KEY } from "../store/fixtures";
import { describeBackends } from "../support/db";

/**
 * The statements that reach the database, by their first two words; a transaction shows as BEGIN ... COMMIT. Reads of
 * the event log are also kept whole, with their parameters and the versions they returned.
 */
function counting(db: Db): {
  db: Db;
  statements: string[];
  logReads: Array<{ params: unknown[]; versions: number[] }>;
} {
  const statements: string[] = [];
  const logReads: Array<{ params: unknown[]; versions: number[] }> = [];
  const words = (sql: string) => sql.trim().split(/\s+/).slice(0, 2).join(" ");
  const run = async <T>(q: Queryable, sql: string, params?: unknown[]) => {
    statements.push(words(sql));
    const result = await q.query<T>(sql, params);
    if (/JOIN session_events/.test(sql))
      logReads.push({
        params: params ?? [],
        versions: (result.rows as Array<{ version: number }>).map((r) => r.version),
      });
    return result;
  };
  const wrapped: Db = {
    kind: db.kind,
    query: (sql, params) => run(db, sql, params),
    relaxed: (sql, params) => run({ query: (s, p) => db.relaxed(s, p) }, sql, params),
    tx: async (fn) => {
      statements.push("BEGIN");
      try {
        const result = await db.tx((q: Queryable) => fn({ query: (sql, params) => run(q, sql, params) }));
        statements.push("COMMIT");
        return result;
      } catch (err) {
        statements.push("ROLLBACK");
        throw err;
      }
    },
    close: () => db.close(),
  };
  return { db: wrapped, statements, logReads };
}

const noScheduler: Scheduler = {
  kind: "in-process",
  start: async () => {},
  ensure: async () => {},
  cancelSession: async () => {},
  close: async () => {},
};

/** One node's sessions module over `db`, noting the notices it stages. */
function node(db: Db, staged: string[][], published: Committed[] = []) {
  const outbox = new Notifications({
    db,
    scheduler: noScheduler,
    readSession: async () => null,
    log: pino({ level: "silent" }),
  });
  return new SessionService({
    db,
    masterKey: MASTER_KEY,
    signer: createHeadSigner(generateKeyPairSync("ed25519").privateKey),
    scheduler: noScheduler,
    publisher: { publish: (c) => void published.push(c) },
    notices: {
      // The real outbox's staging, noting the ids it made.
      stage: (stmt, groups) => {
        const ids = outbox.stage(stmt, groups);
        staged.push(...ids);
        return ids;
      },
      dispatch: async () => {},
    },
    log: pino({ level: "silent" }),
    random: secureRandom(),
  });
}

describeBackends("a command batch's statements", ({ db }) => {
  async function setUp() {
    const claimant = { id: await createUser(db(), "Claire Claimant"), name: "Claire Claimant" };
    const respondent = { id: await createUser(db(), "Ray Respondent"), name: "Ray Respondent" };
    const counted = counting(db());
    const staged: string[][] = [];
    const published: Committed[] = [];
    const a = node(counted.db, staged, published);
    const created = await a.commands.create(claimant, {
      title: "Acme v. Widget",
      creatorRole: "claimant",
      rules: {},
      startAt: Date.now() + 3_600_000,
      termsText: "",
    });
    return { claimant, respondent, counted, staged, published, a, sessionId: created.sessionId };
  }

  async function storedVersions(sessionId: string): Promise<number[]> {
    const r = await db().query<{ version: number }>(
      "SELECT version FROM session_events WHERE session_id = $1 ORDER BY version",
      [sessionId],
    );
    return r.rows.map((x) => x.version);
  }

  it("is idle only once what it committed has been pushed: the outbox's deliveries wait for that", async () => {
    const { claimant, published, a, sessionId } = await setUp();
    const issued = await a.commands.execute(
      sessionId,
      claimant,
      {
        type: "IssueInvitation",
        invitationId: crypto.randomUUID(),
        role: "respondent",
        canBid: true,
        expiresAt: Date.now() + 86_400_000,
      },
      null,
    );
    // Answered at once; its push goes out a loop turn later, with the rest of what is queued.
    expect(published).not.toContain(issued);
    await a.commands.idle();
    expect(published).toContain(issued);
  });

  it("sends a command on a session this node committed last as one statement, its notices inside it", async () => {
    const { claimant, respondent, counted, staged, a, sessionId } = await setUp();
    // The creation locks (a new session): a transaction.
    expect(counted.statements[0]).toBe("BEGIN");
    expect(counted.statements.at(-1)).toBe("COMMIT");

    counted.statements.length = 0;
    const invitationId = crypto.randomUUID();
    await a.commands.execute(
      sessionId,
      claimant,
      {
        type: "IssueInvitation",
        invitationId,
        role: "respondent",
        canBid: true,
        expiresAt: Date.now() + 86_400_000,
      },
      null,
    );
    expect(counted.statements).toEqual(["WITH appended"]);

    counted.statements.length = 0;
    await a.commands.execute(sessionId, respondent, { type: "JoinSession", invitationId }, null);
    expect(counted.statements).toEqual(["WITH appended"]);

    // The creator cancels: "ended" mail for the other member (not for the one who cancelled), staged into the one statement and stored with it.
    counted.statements.length = 0;
    const ended: Committed = await a.commands.execute(sessionId, claimant, { type: "Cancel" }, null);
    expect(counted.statements).toHaveLength(1);
    expect(counted.statements[0]).toMatch(/^WITH /);
    expect(ended.noticeIds).toHaveLength(1);
    expect(staged.at(-1)).toEqual(ended.noticeIds);
    const stored = await db().query<{ id: string; user_id: string; kind: string }>(
      "SELECT id, user_id, kind FROM notifications WHERE id = ANY($1::uuid[])",
      [ended.noticeIds],
    );
    expect(stored.rows.map((r) => r.id).sort()).toEqual([...ended.noticeIds].sort());
    expect(stored.rows.map((r) => r.user_id)).toEqual([respondent.id]);
    expect(stored.rows.every((r) => r.kind === "ended")).toBe(true);
    expect(await storedVersions(sessionId)).toEqual([1, 2, 3, 4]);
  });

  it("fails the one statement whole when another node moved the session, then runs the command locked", async () => {
    const { claimant, counted, a, sessionId } = await setUp();
    // Node B moves the session behind node A's back.
    const b = node(db(), []);
    await b.commands.execute(sessionId, claimant, { type: "UpdateSetup", title: "Moved on B" }, null);
    expect(await storedVersions(sessionId)).toEqual([1, 2]);

    counted.statements.length = 0;
    const renamed = await a.commands.execute(
      sessionId,
      claimant,
      { type: "UpdateSetup", title: "Renamed on A" },
      null,
    );
    // The trusted statement (decided on A's stale copy) stored nothing; the locked run decided on the stored session.
    expect(counted.statements[0]).toBe("WITH appended");
    expect(counted.statements.slice(1, 3)).toEqual(["BEGIN", "SELECT s.id,"]);
    expect(counted.statements.at(-1)).toBe("COMMIT");
    expect(renamed.version).toBe(3);
    expect(renamed.state.title).toBe("Renamed on A");
    expect(await storedVersions(sessionId)).toEqual([1, 2, 3]);
    const row = await db().query<{ title: string; version: number }>(
      "SELECT title, version FROM sessions WHERE id = $1",
      [sessionId],
    );
    expect(row.rows[0]).toEqual({ title: "Renamed on A", version: 3 });
  });

  it("brings a session another node moved up to date by the events after its own copy, not by the whole log", async () => {
    const { claimant, counted, a, sessionId } = await setUp();
    const b = node(db(), []);
    // The two nodes take turns, as two sides of a mediation on different web nodes do: each command finds the other
    // node's commit ahead of its cached copy.
    let last: Committed | undefined;
    for (let i = 1; i <= 3; i++) {
      await b.commands.execute(sessionId, claimant, { type: "UpdateSetup", title: `B ${i}` }, null);
      counted.logReads.length = 0;
      counted.statements.length = 0;
      const onA = await a.commands.execute(
        sessionId,
        claimant,
        { type: "UpdateSetup", title: `A ${i}` },
        null,
      );
      // A's copy was at version 2i - 1 (its own last commit); it read the one event B added, nothing before it.
      expect(counted.logReads).toEqual([{ params: [[sessionId], [2 * i - 1]], versions: [2 * i] }]);
      expect(onA.version).toBe(2 * i + 1);
      expect(onA.state.title).toBe(`A ${i}`);
      // The first time, A trusted its copy and the statement failed; from then on A knows the session is shared and
      // locks it at once instead of staging every command twice.
      expect(counted.statements[0]).toBe(i === 1 ? "WITH appended" : "BEGIN");
      expect(counted.statements.filter((x) => x === "WITH appended")).toHaveLength(i === 1 ? 2 : 1);
      last = onA;
    }
    // The state decided on the caught-up copy is the one a replay of the whole log gives.
    expect(last?.state).toEqual(await new SessionRepository(db(), MASTER_KEY).replayUnlocked(sessionId));
    // B falls quiet: one locked command finds the row where A left it, and the next is one statement again.
    await a.commands.execute(sessionId, claimant, { type: "UpdateSetup", title: "A alone" }, null);
    counted.statements.length = 0;
    await a.commands.execute(sessionId, claimant, { type: "UpdateSetup", title: "A alone again" }, null);
    expect(counted.statements).toEqual(["WITH appended"]);
    expect(await storedVersions(sessionId)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
