import { expect, it } from "vitest";
import { openDb } from "../../src/store/db";
import { appliedMigrations, MIGRATIONS, migrate } from "../../src/store/migrations";
import { describeBackends, openTestDb } from "../support/db";
import { createSession } from "./fixtures";

// The columns other modules rely on, by table (name -> information_schema data_type).
const EXPECTED_SCHEMA: Record<string, Record<string, string>> = {
  users: {
    id: "uuid",
    email: "text",
    display_name: "text",
    password_hash: "text",
    created_at: "timestamp with time zone",
  },
  sessions: {
    id: "uuid",
    title: "text",
    created_by: "uuid",
    created_at: "timestamp with time zone",
    version: "integer",
    chain_hash: "text",
    phase: "text",
    wrapped_key: "text",
    key_destroyed_at: "timestamp with time zone",
    snapshot: "jsonb",
    streams: "jsonb",
  },
  session_events: {
    session_id: "uuid",
    version: "integer",
    type: "text",
    at: "bigint",
    actor: "uuid",
    payload: "jsonb",
    digest: "text",
    chain_hash: "text",
  },
  session_stream_entries: {
    session_id: "uuid",
    stream: "text",
    position: "integer",
    version: "integer",
    digest: "text",
    head: "text",
  },
  session_members: {
    session_id: "uuid",
    user_id: "uuid",
    role: "text",
    can_bid: "boolean",
    joined_at: "timestamp with time zone",
  },
  invitations: {
    id: "uuid",
    session_id: "uuid",
    token_hash: "text",
    role: "text",
    can_bid: "boolean",
    email: "text",
    expires_at: "timestamp with time zone",
    created_by: "uuid",
    created_at: "timestamp with time zone",
    used_by: "uuid",
    used_at: "timestamp with time zone",
  },
  deadlines: { session_id: "uuid", key: "text", kind: "text", due_at: "bigint" },
  command_receipts: {
    session_id: "uuid",
    user_id: "uuid",
    idempotency_key: "text",
    version: "integer",
    created_at: "timestamp with time zone",
    command_hash: "text",
    position: "integer",
  },
  notifications: {
    id: "uuid",
    session_id: "uuid",
    user_id: "uuid",
    email: "text",
    channel: "text",
    kind: "text",
    title: "text",
    body: "text",
    link: "text",
    created_at: "timestamp with time zone",
    attempts: "integer",
    claimed_until: "timestamp with time zone",
    sent_at: "timestamp with time zone",
    outcome: "text",
    trigger_id: "uuid",
  },
  push_subscriptions: {
    id: "uuid",
    user_id: "uuid",
    endpoint: "text",
    p256dh: "text",
    auth: "text",
    label: "text",
    created_at: "timestamp with time zone",
  },
  notification_optouts: {
    email: "text",
    channel: "text",
    kind: "text",
    created_at: "timestamp with time zone",
  },
  schema_migrations: { id: "integer", name: "text", applied_at: "timestamp with time zone" },
};

describeBackends("migrations", ({ backend, db }) => {
  it("creates exactly the agreed tables and columns", async () => {
    const res = await db().query<{ table_name: string; column_name: string; data_type: string }>(
      `SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public'`,
    );
    const actual: Record<string, Record<string, string>> = {};
    for (const r of res.rows) {
      actual[r.table_name] = { ...actual[r.table_name], [r.column_name]: r.data_type };
    }
    expect(actual).toEqual(EXPECTED_SCHEMA);
  });

  it("creates the lookup indexes", async () => {
    const res = await db().query<{ indexdef: string }>(
      "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'",
    );
    const defs = res.rows.map((r) => r.indexdef);
    expect(defs).toContainEqual(expect.stringMatching(/ON public\.session_members USING btree \(user_id\)/));
    expect(defs).toContainEqual(expect.stringMatching(/ON public\.deadlines USING btree \(due_at\)/));
    // A delivery's claim finds its rows by these two alone (outbox.ts): no partial index on notices by session is left.
    expect(defs).toContainEqual(
      expect.stringMatching(/ON public\.notifications USING btree \(trigger_id\)$/),
    );
    expect(defs).toContainEqual(
      expect.stringMatching(/notifications_pkey ON public\.notifications USING btree \(id\)/),
    );
    expect(defs.filter((d) => /notifications USING btree \(session_id\)/.test(d))).toEqual([]);
  });

  it("is idempotent: running again applies nothing and keeps data", async () => {
    const { sessionId } = await createSession(db());
    await migrate(db());
    await migrate(db());
    expect(await appliedMigrations(db())).toEqual(MIGRATIONS.map((m) => ({ id: m.id, name: m.name })));
    expect((await db().query("SELECT id FROM sessions")).rows).toEqual([{ id: sessionId }]);
  });

  it("rolls back a failing migration completely", async () => {
    const broken = [
      ...MIGRATIONS,
      {
        id: MIGRATIONS.length + 1,
        name: "broken",
        statements: ["CREATE TABLE half_done (n int)", "SELECT no_such_fn()"],
      },
    ];
    await expect(migrate(db(), broken)).rejects.toThrow(/no_such_fn/);
    expect(await appliedMigrations(db())).toHaveLength(MIGRATIONS.length);
    const tables = await db().query("SELECT 1 FROM pg_tables WHERE tablename = 'half_done'");
    expect(tables.rowCount).toBe(0);
  });

  it("refuses migrations out of order", async () => {
    await expect(migrate(db(), [{ id: 2, name: "x", statements: [] }])).rejects.toThrow(/1\.\.n in order/);
  });

  it("keeps session_events append-only", async () => {
    const { sessionId } = await createSession(db());
    await db().query(
      `INSERT INTO session_events (session_id, version, type, at, actor, payload, digest, chain_hash)
       VALUES ($1, 1, 'SessionCreated', 1, NULL, '{}'::jsonb, 'd', 'c')`,
      [sessionId],
    );
    await expect(db().query("UPDATE session_events SET type = 'Forged'")).rejects.toThrow(/append-only/);
    await expect(db().query("DELETE FROM session_events")).rejects.toThrow(/append-only/);
    expect((await db().query("SELECT type FROM session_events")).rows).toEqual([{ type: "SessionCreated" }]);
  });

  it("guards the log with row triggers (UPDATE, DELETE) and statement triggers (TRUNCATE)", async () => {
    const res = await db().query<{ table: string; name: string; def: string }>(
      `SELECT c.relname AS table, t.tgname AS name, pg_get_triggerdef(t.oid) AS def
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE NOT t.tgisinternal AND c.relname IN ('session_events', 'session_stream_entries')
        ORDER BY c.relname, t.tgname`,
    );
    expect(res.rows.map((r) => [r.table, r.name])).toEqual([
      ["session_events", "session_events_append_only"],
      ["session_events", "session_events_no_truncate"],
      ["session_stream_entries", "session_stream_entries_append_only"],
      ["session_stream_entries", "session_stream_entries_no_truncate"],
    ]);
    const defs = Object.fromEntries(res.rows.map((r) => [r.name, r.def]));
    expect(defs.session_events_append_only).toMatch(/BEFORE DELETE OR UPDATE .* FOR EACH ROW/);
    expect(defs.session_stream_entries_append_only).toMatch(/BEFORE DELETE OR UPDATE .* FOR EACH ROW/);
    expect(defs.session_events_no_truncate).toMatch(/BEFORE TRUNCATE .* FOR EACH STATEMENT/);
    expect(defs.session_stream_entries_no_truncate).toMatch(/BEFORE TRUNCATE .* FOR EACH STATEMENT/);
  });

  it("numbers a stream once: a position or a version appears at most once per stream", async () => {
    const { sessionId } = await createSession(db());
    for (const version of [1, 2]) {
      await db().query(
        `INSERT INTO session_events (session_id, version, type, at, actor, payload, digest, chain_hash)
         VALUES ($1, $2, 'Note', 1, NULL, '{}'::jsonb, 'd', 'c')`,
        [sessionId, version],
      );
    }
    const entry = (stream: string, position: number, version: number) =>
      db().query(
        `INSERT INTO session_stream_entries (session_id, stream, position, version, digest, head)
         VALUES ($1, $2, $3, $4, 'd', 'h')`,
        [sessionId, stream, position, version],
      );
    await entry("claimant", 1, 1);
    await expect(entry("claimant", 1, 2)).rejects.toThrow(/duplicate key/);
    await expect(entry("claimant", 2, 1)).rejects.toThrow(/duplicate key/);
    await expect(entry("claimant", 0, 2)).rejects.toThrow(/check constraint/);
    await expect(entry("operator", 1, 2)).rejects.toThrow(/check constraint/);
    // An entry names a stored event.
    await expect(entry("claimant", 2, 3)).rejects.toThrow(/foreign key/);
    await entry("respondent", 1, 2);
  });

  it("stores e-mail addresses lower-cased only", async () => {
    await expect(
      db().query(
        "INSERT INTO users (email, display_name, password_hash) VALUES ('Ann@Example.test', 'Ann', 'h')",
      ),
    ).rejects.toThrow(/check constraint/);
  });

  it("is safe when several processes migrate a fresh database at once", { timeout: 60_000 }, async () => {
    const fresh = await openTestDb(backend, { migrate: false });
    // PostgreSQL: separate pools, i.e. separate connections racing like separate processes.
    // PGlite is single-connection, so the racers share it and the lock must not deadlock.
    const racers =
      backend === "postgres"
        ? await Promise.all(Array.from({ length: 4 }, () => openDb({ databaseUrl: fresh.databaseUrl! })))
        : Array.from({ length: 4 }, () => fresh.db);
    try {
      await Promise.all(racers.map((racer) => migrate(racer)));
      expect(await appliedMigrations(fresh.db)).toEqual(MIGRATIONS.map((m) => ({ id: m.id, name: m.name })));
      const tables = await fresh.db.query("SELECT 1 FROM pg_tables WHERE schemaname = 'public'");
      expect(tables.rowCount).toBe(Object.keys(EXPECTED_SCHEMA).length);
    } finally {
      if (backend === "postgres") await Promise.all(racers.map((racer) => racer.close()));
      await fresh.close();
    }
  });
});
