// Ordered, idempotent schema migrations. Each migration is a list of single statements because
// PGlite's parameterised query path accepts one statement at a time.
import type { Db, Queryable } from "./db";

export interface Migration {
  id: number;
  name: string;
  statements: readonly string[];
}

// Any constant works; it only has to be the same in every process migrating this database.
const MIGRATION_LOCK_KEY = 7_262_200_001;

export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: "initial schema",
    statements: [
      `CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email text UNIQUE NOT NULL CHECK (email = lower(email)),
        display_name text NOT NULL,
        password_hash text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      // snapshot is an optional cache of derived state; it never holds a confidential number.
      `CREATE TABLE sessions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        title text NOT NULL,
        created_by uuid NOT NULL REFERENCES users(id),
        created_at timestamptz NOT NULL DEFAULT now(),
        version int NOT NULL DEFAULT 0,
        chain_hash text NOT NULL,
        phase text NOT NULL,
        wrapped_key text,
        key_destroyed_at timestamptz,
        snapshot jsonb
      )`,
      `CREATE INDEX sessions_created_by_idx ON sessions (created_by)`,
      `CREATE TABLE session_events (
        session_id uuid NOT NULL REFERENCES sessions(id),
        version int NOT NULL CHECK (version > 0),
        type text NOT NULL,
        at bigint NOT NULL,
        actor uuid,
        payload jsonb NOT NULL,
        digest text NOT NULL,
        chain_hash text NOT NULL,
        PRIMARY KEY (session_id, version)
      )`,
      // The audit log is append-only: the database itself refuses to rewrite or delete history.
      `CREATE FUNCTION session_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'session_events is append-only';
        END
      $$`,
      `CREATE TRIGGER session_events_append_only BEFORE UPDATE OR DELETE ON session_events
        FOR EACH ROW EXECUTE FUNCTION session_events_append_only()`,
      `CREATE TABLE session_members (
        session_id uuid REFERENCES sessions(id),
        user_id uuid REFERENCES users(id),
        role text NOT NULL CHECK (role IN ('claimant', 'respondent', 'mediator')),
        can_bid boolean NOT NULL,
        joined_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (session_id, user_id)
      )`,
      `CREATE INDEX session_members_user_id_idx ON session_members (user_id)`,
      `CREATE TABLE invitations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        session_id uuid NOT NULL REFERENCES sessions(id),
        token_hash text UNIQUE NOT NULL,
        role text NOT NULL CHECK (role IN ('claimant', 'respondent', 'mediator')),
        can_bid boolean NOT NULL,
        email text,
        expires_at timestamptz NOT NULL,
        created_by uuid NOT NULL REFERENCES users(id),
        created_at timestamptz NOT NULL DEFAULT now(),
        used_by uuid REFERENCES users(id),
        used_at timestamptz
      )`,
      `CREATE INDEX invitations_session_id_idx ON invitations (session_id)`,
      `CREATE TABLE deadlines (
        session_id uuid NOT NULL REFERENCES sessions(id),
        key text NOT NULL,
        kind text NOT NULL,
        due_at bigint NOT NULL,
        PRIMARY KEY (session_id, key)
      )`,
      `CREATE INDEX deadlines_due_at_idx ON deadlines (due_at)`,
      `CREATE TABLE command_receipts (
        session_id uuid NOT NULL,
        user_id uuid NOT NULL,
        idempotency_key text NOT NULL,
        version int NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (session_id, user_id, idempotency_key)
      )`,
    ],
  },
  {
    id: 2,
    name: "command receipts remember what they acknowledged",
    statements: [
      // A hash of the command (never the command itself: it may hold a number), so a key reused for a
      // different command is refused instead of answered with the first one's result.
      "ALTER TABLE command_receipts ADD COLUMN command_hash text",
    ],
  },
  {
    id: 3,
    name: "a stream per role, with positions and heads of its own; the log refuses TRUNCATE",
    statements: [
      // {claimant|respondent|mediator: {position, head}}; null until the service numbers an older session.
      "ALTER TABLE sessions ADD COLUMN streams jsonb",
      `CREATE TABLE session_stream_entries (
        session_id uuid NOT NULL,
        stream text NOT NULL CHECK (stream IN ('claimant', 'respondent', 'mediator')),
        position int NOT NULL CHECK (position > 0),
        version int NOT NULL,
        digest text NOT NULL,
        head text NOT NULL,
        PRIMARY KEY (session_id, stream, position),
        UNIQUE (session_id, stream, version),
        FOREIGN KEY (session_id, version) REFERENCES session_events (session_id, version)
      )`,
      `CREATE TRIGGER session_stream_entries_append_only BEFORE UPDATE OR DELETE ON session_stream_entries
        FOR EACH ROW EXECUTE FUNCTION session_events_append_only()`,
      // Row triggers do not see TRUNCATE: statement triggers refuse it too.
      `CREATE TRIGGER session_events_no_truncate BEFORE TRUNCATE ON session_events
        FOR EACH STATEMENT EXECUTE FUNCTION session_events_append_only()`,
      `CREATE TRIGGER session_stream_entries_no_truncate BEFORE TRUNCATE ON session_stream_entries
        FOR EACH STATEMENT EXECUTE FUNCTION session_events_append_only()`,
      // The position a retried command answers with is the sender's stream position, never the global version.
      "ALTER TABLE command_receipts ADD COLUMN position int",
    ],
  },
  {
    id: 4,
    name: "notifications: an outbox of notices to mail and push, push subscriptions, opt-outs",
    statements: [
      // Written in the command's own transaction; a scheduler trigger delivers each row once (sent_at).
      // title and body never hold an amount; link (an invitation's, with its token) is cleared once sent.
      `CREATE TABLE notifications (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        session_id uuid REFERENCES sessions(id),
        user_id uuid REFERENCES users(id),
        email text,
        channel text NOT NULL CHECK (channel IN ('mail', 'push')),
        kind text NOT NULL,
        title text NOT NULL,
        body text NOT NULL,
        link text,
        created_at timestamptz NOT NULL DEFAULT now(),
        attempts int NOT NULL DEFAULT 0,
        claimed_until timestamptz,
        sent_at timestamptz,
        outcome text,
        CHECK (user_id IS NOT NULL OR email IS NOT NULL)
      )`,
      "CREATE INDEX notifications_pending_idx ON notifications (created_at) WHERE sent_at IS NULL",
      `CREATE TABLE push_subscriptions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users(id),
        endpoint text UNIQUE NOT NULL,
        p256dh text NOT NULL,
        auth text NOT NULL,
        label text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      "CREATE INDEX push_subscriptions_user_id_idx ON push_subscriptions (user_id)",
      // Keyed by address, so an unsubscribe link works without an account and before one exists.
      `CREATE TABLE notification_optouts (
        email text NOT NULL,
        channel text NOT NULL CHECK (channel IN ('mail', 'push')),
        kind text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (email, channel, kind)
      )`,
    ],
  },
  {
    id: 5,
    name: "an append's guard fails its own statement",
    statements: [
      // Called by the statement that appends (event-log.ts, executeAppends) with the sessions it meant to move and
      // those its guarded UPDATE did move: an error here undoes the whole statement, so a batch's write is one
      // statement that stores all of it or nothing, with or without a transaction around it.
      `CREATE FUNCTION session_append_guard(expected uuid[], appended uuid[]) RETURNS int LANGUAGE plpgsql AS $$
        DECLARE
          missing uuid;
        BEGIN
          SELECT e INTO missing FROM unnest(expected) AS e WHERE NOT (e = ANY (appended)) LIMIT 1;
          IF missing IS NULL THEN
            RETURN 0;
          END IF;
          IF EXISTS (SELECT 1 FROM sessions WHERE id = missing) THEN
            RAISE EXCEPTION 'session % moved on', missing USING ERRCODE = 'BC409', DETAIL = missing::text;
          END IF;
          RAISE EXCEPTION 'session % not found', missing USING ERRCODE = 'BC404', DETAIL = missing::text;
        END
      $$`,
    ],
  },
  {
    id: 6,
    name: "a session's pending notices, found by session",
    statements: [
      // A notice trigger delivers every pending notice of its session (outbox.ts, deliverBatch).
      "CREATE INDEX notifications_session_pending_idx ON notifications (session_id) WHERE sent_at IS NULL",
    ],
  },
  {
    id: 7,
    name: "each notice names its trigger: a delivery claims its own rows by index, whatever the backlog",
    statements: [
      // The rows stored together (a commit's of one session, an invitation's mail) share one trigger, named by the
      // first of them; a trigger delivers exactly its rows (outbox.ts, deliverBatch). Rows stored before this have
      // none: each is its own trigger. The claim found a session's pending rows through the partial index above,
      // whose row estimate (from statistics taken while few rows were pending) let PostgreSQL scan every pending row
      // for each trigger in a burst; this index has no predicate for a stale estimate to mislead.
      "ALTER TABLE notifications ADD COLUMN trigger_id uuid",
      "CREATE INDEX notifications_trigger_id_idx ON notifications (trigger_id)",
      "DROP INDEX notifications_session_pending_idx",
      // Statistics for the new column at once (a table of any size): without them PostgreSQL guesses 0.5% of the
      // table per trigger and plans the claim's join with a scan of the whole table.
      "ANALYZE notifications",
    ],
  },
];

/**
 * Applies every pending migration in one transaction. A transaction-scoped advisory lock makes a
 * second process that starts at the same moment wait, then find nothing left to do.
 */
export async function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): Promise<void> {
  assertOrdered(migrations);
  await db.tx(async (q) => {
    await q.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    await q.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id int PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const applied = new Set((await appliedMigrations(q)).map((m) => m.id));
    for (const migration of migrations) {
      if (applied.has(migration.id)) continue;
      for (const statement of migration.statements) await q.query(statement);
      await q.query("INSERT INTO schema_migrations (id, name) VALUES ($1, $2)", [
        migration.id,
        migration.name,
      ]);
    }
  });
}

/** The tables whose rows are history: the app's role may read and append to them, nothing else. */
const APPEND_ONLY_TABLES = ["session_events", "session_stream_entries"] as const;

/**
 * Run by the schema's owner after migrating, when the app connects as another role: that role may read and append to
 * the log and nothing more (no UPDATE, DELETE or TRUNCATE, and as a non-owner it cannot drop or disable the log's
 * triggers), and read and write the other tables.
 */
export async function grantAppRole(owner: Db, role: string): Promise<void> {
  const who = quoteIdent(role);
  await owner.tx(async (q) => {
    const tables = await q.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    for (const { tablename } of tables.rows) {
      const table = quoteIdent(tablename);
      await q.query(`REVOKE ALL ON ${table} FROM ${who}`);
      if ((APPEND_ONLY_TABLES as readonly string[]).includes(tablename))
        await q.query(`GRANT SELECT, INSERT ON ${table} TO ${who}`);
      else if (tablename === "schema_migrations") await q.query(`GRANT SELECT ON ${table} TO ${who}`);
      else await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${table} TO ${who}`);
    }
  });
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export async function appliedMigrations(q: Queryable): Promise<{ id: number; name: string }[]> {
  const res = await q.query<{ id: number; name: string }>(
    "SELECT id, name FROM schema_migrations ORDER BY id",
  );
  return res.rows;
}

function assertOrdered(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.id !== i + 1)
      throw new Error(`migration ids must be 1..n in order; found ${m.id} at position ${i + 1}`);
  });
}
