import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { MAX_PREPARED, openDb, PREPARE_AFTER, statementNames } from "../../src/store/db";
import { describeBackends } from "../support/db";
import { createSession, createUser } from "./fixtures";

const execFileAsync = promisify(execFile);

describeBackends("Db", ({ backend, db }) => {
  it("reports its kind", () => {
    expect(db().kind).toBe(backend === "postgres" ? "postgres" : "pglite");
  });

  it("maps int to number, bigint epoch ms to number, timestamptz to Date and jsonb to objects", async () => {
    const { sessionId } = await createSession(db());
    await db().query("UPDATE sessions SET snapshot = $2::jsonb WHERE id = $1", [
      sessionId,
      JSON.stringify({ a: [1] }),
    ]);
    await db().query(
      "INSERT INTO deadlines (session_id, key, kind, due_at) VALUES ($1, 'step2', 'close', $2)",
      [sessionId, 1_732_500_000_123],
    );
    const res = await db().query<{
      version: unknown;
      created_at: unknown;
      snapshot: unknown;
      due_at: unknown;
      n: unknown;
    }>(
      `SELECT s.version, s.created_at, s.snapshot, d.due_at, (SELECT count(*) FROM sessions) AS n
         FROM sessions s JOIN deadlines d ON d.session_id = s.id`,
    );
    expect(res.rows).toEqual([
      { version: 0, created_at: expect.any(Date), snapshot: { a: [1] }, due_at: 1_732_500_000_123, n: 1 },
    ]);
  });

  it.runIf(backend === "postgres")(
    "keeps its connection after a statement the database refused",
    async () => {
      const pid = async () =>
        (await db().query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
      // One query at a time: the pool hands out the connection it got back last.
      const before = await pid();
      await expect(db().query("SELECT 1 / (SELECT count(*) FROM users)")).rejects.toMatchObject({
        code: "22012",
      });
      await expect(db().query("INSERT INTO no_such_table VALUES (1)")).rejects.toMatchObject({
        code: "42P01",
      });
      expect(await pid()).toBe(before);
    },
  );

  it("a refused statement's error carries its SQLSTATE and fields (PGlite's cross from its thread)", async () => {
    const id = await createUser(db(), "A");
    const refused = db().query(
      "INSERT INTO users (id, email, display_name, password_hash) VALUES ($1, $2, $3, $4)",
      [id, "other@example.test", "B", "x"],
    );
    await expect(refused).rejects.toBeInstanceOf(Error);
    await expect(refused).rejects.toMatchObject({ code: "23505", constraint: "users_pkey" });
  });

  it("reports rowCount for writes and reads", async () => {
    await createUser(db(), "A");
    await createUser(db(), "B");
    expect((await db().query("UPDATE users SET display_name = display_name || '!'")).rowCount).toBe(2);
    expect((await db().query("SELECT * FROM users")).rowCount).toBe(2);
    expect((await db().query("DELETE FROM users WHERE false")).rowCount).toBe(0);
  });

  it("commits a transaction and returns its result", async () => {
    const id = await db().tx(async (q) => createUser(q));
    expect((await db().query("SELECT id FROM users")).rows).toEqual([{ id }]);
  });

  it("rolls back and rethrows the same error when the function throws", async () => {
    const failure = new Error("refused by the engine");
    await expect(
      db().tx(async (q) => {
        await createUser(q);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect((await db().query("SELECT * FROM users")).rows).toEqual([]);
  });

  it("rolls back on an SQL error and stays usable", async () => {
    await expect(
      db().tx(async (q) => {
        await createUser(q);
        await q.query("SELECT * FROM no_such_table");
      }),
    ).rejects.toThrow(/no_such_table/);
    expect((await db().query("SELECT * FROM users")).rows).toEqual([]);
    await db().tx((q) => createUser(q));
    expect((await db().query("SELECT * FROM users")).rowCount).toBe(1);
  });

  it("rolls back when the first statement fails (PGlite opens the transaction with it), and stays usable", async () => {
    await expect(
      db().tx(async (q) => {
        await q.query("SELECT * FROM no_such_table");
      }),
    ).rejects.toThrow(/no_such_table/);
    // A transaction whose first statement failed and was caught goes on in that same (aborted) transaction.
    await expect(
      db().tx(async (q) => {
        await q.query("SELECT * FROM no_such_table").catch(() => {});
        await createUser(q);
      }),
    ).rejects.toThrow(/aborted/);
    expect((await db().query("SELECT * FROM users")).rows).toEqual([]);
    await db().tx((q) => createUser(q));
    expect((await db().query("SELECT * FROM users")).rowCount).toBe(1);
  });

  it("answers a transaction that sent no statement, whether it returns or throws", async () => {
    expect(await db().tx(async () => 42)).toBe(42);
    const failure = new Error("nothing to do");
    await expect(
      db().tx(async () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    await db().tx((q) => createUser(q));
    expect((await db().query("SELECT * FROM users")).rowCount).toBe(1);
  });

  it("runs concurrent transactions without interleaving their writes", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        db().tx(async (q) => {
          await createUser(q, `user ${i}`);
          if (i % 3 === 0) throw new Error("rolled back on purpose");
        }),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(8);
    expect((await db().query("SELECT * FROM users")).rowCount).toBe(8);
  });

  it("runs a relaxed statement alone with synchronous_commit off, visible at once, leaving every other statement on", async () => {
    const setting = async (run: Promise<{ rows: Array<Record<string, unknown>> }>) =>
      (await run).rows[0]?.synchronous_commit;
    expect(await setting(db().relaxed("SHOW synchronous_commit"))).toBe("off");
    expect(await setting(db().query("SHOW synchronous_commit"))).toBe("on");
    expect(await setting(db().tx((q) => q.query("SHOW synchronous_commit")))).toBe("on");
    const id = await createUser(db(), "relaxed");
    const renamed = await db().relaxed("UPDATE users SET display_name = 'renamed' WHERE id = $1", [id]);
    expect(renamed.rowCount).toBe(1);
    expect((await db().query("SELECT display_name FROM users WHERE id = $1", [id])).rows).toEqual([
      { display_name: "renamed" },
    ]);
    // A refused one changes nothing and leaves the database usable, still with the setting where it was.
    await expect(db().relaxed("UPDATE users SET display_name = NULL WHERE id = $1", [id])).rejects.toThrow();
    expect((await db().query("SELECT display_name FROM users WHERE id = $1", [id])).rows).toEqual([
      { display_name: "renamed" },
    ]);
    expect(await setting(db().query("SHOW synchronous_commit"))).toBe("on");
  });

  if (backend === "postgres")
    it("prepares a statement text from its third run on, on each connection once, with the same answers", async () => {
      const sql = "SELECT $1::int + 1 AS n, 'prepared statements test' AS what";
      const prepared = await db().tx(async (q) => {
        const answers = [];
        for (let i = 0; i < 5; i++) answers.push((await q.query<{ n: number }>(sql, [i])).rows[0]?.n);
        expect(answers).toEqual([1, 2, 3, 4, 5]);
        // The same connection: what it has prepared.
        return (
          await q.query<{ name: string; statement: string }>(
            "SELECT name, statement FROM pg_prepared_statements WHERE statement LIKE '%prepared statements test%'",
          )
        ).rows;
      });
      expect(prepared).toHaveLength(1);
      expect(prepared[0]?.name).toMatch(/^bc_[0-9a-f]{32}$/);
      expect(prepared[0]?.statement).toBe(sql);
    });
});

describe("statementNames (which statements PostgreSQL prepares)", () => {
  it("names a text from its PREPARE_AFTER-th run, the same name every time after, a name per text", () => {
    const nameOf = statementNames();
    const runs = Array.from({ length: PREPARE_AFTER + 2 }, () => nameOf("SELECT 1"));
    expect(runs.slice(0, PREPARE_AFTER - 1)).toEqual(Array(PREPARE_AFTER - 1).fill(undefined));
    const name = runs[PREPARE_AFTER - 1];
    expect(name).toMatch(/^bc_[0-9a-f]{32}$/);
    expect(runs.slice(PREPARE_AFTER - 1)).toEqual(Array(3).fill(name));
    for (let i = 1; i < PREPARE_AFTER; i++) nameOf("SELECT 2");
    const other = nameOf("SELECT 2");
    expect(other).toMatch(/^bc_/);
    expect(other).not.toBe(name);
  });

  it("names at most MAX_PREPARED texts (the first to repeat); the rest run unnamed", () => {
    const nameOf = statementNames();
    const texts = Array.from({ length: MAX_PREPARED + 5 }, (_, i) => `SELECT ${i}`);
    for (let round = 0; round < PREPARE_AFTER; round++) for (const t of texts) nameOf(t);
    const names = texts.map((t) => nameOf(t));
    expect(names.slice(0, MAX_PREPARED).every((n) => n !== undefined)).toBe(true);
    expect(names.slice(MAX_PREPARED)).toEqual(Array(5).fill(undefined));
    expect(new Set(names.slice(0, MAX_PREPARED)).size).toBe(MAX_PREPARED);
  });
});

describe("Db on a PGlite data dir", () => {
  it("persists rows across close and reopen", { timeout: 60_000 }, async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), "bc-pglite-")), "data");
    try {
      const first = await openDb({ dataDir });
      await first.query("CREATE TABLE kept (n int)");
      await first.query("INSERT INTO kept VALUES ($1)", [42]);
      await first.close();
      const second = await openDb({ dataDir });
      expect((await second.query("SELECT n FROM kept")).rows).toEqual([{ n: 42 }]);
      await second.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("Db on PGlite: its thread", () => {
  it("does not keep the process alive once idle, and does while a statement runs", {
    timeout: 60_000,
  }, async () => {
    const child = fileURLToPath(new URL("./idle-exit-child.ts", import.meta.url));
    const { stdout } = await execFileAsync(process.execPath, ["--import", "tsx", child], {
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      timeout: 50_000,
    });
    // It answered (the pending statement held the process), then ended without closing the database.
    expect(stdout.trim()).toBe("answered 1");
  });
});
