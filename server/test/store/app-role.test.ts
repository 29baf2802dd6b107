// Issue 6 point 12: the app's own database role can read and append to the log, and nothing more. Migrations run as
// the schema's owner (DATABASE_OWNER_URL); the app (DATABASE_URL) cannot rewrite, delete, truncate or un-trigger
// the log even with its own credentials. PostgreSQL only: roles are a server feature.
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import { silentLogger } from "../../src/log";
import { type RunningServer, startServer } from "../../src/server";
import { Participant, servicesRequired } from "../support/server";

const adminUrl = process.env.DATABASE_URL;
if (!adminUrl && servicesRequired) throw new Error("CI requires DATABASE_URL for the app-role suite");
if (!adminUrl) console.warn("\n!!! SKIPPING the app-role suite: DATABASE_URL not set\n");

describe.runIf(Boolean(adminUrl))("the app's database role (PostgreSQL)", () => {
  const tag = randomBytes(4).toString("hex");
  const owner = `bc_owner_${tag}`;
  const app = `bc_app_${tag}`;
  const dbName = `bc_roles_${tag}`;
  const urlFor = (user: string) => {
    const u = new URL(adminUrl as string);
    u.username = user;
    u.password = "";
    u.pathname = `/${dbName}`;
    return u.toString();
  };
  let server: RunningServer;
  let asApp: pg.Client;

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE ROLE ${owner} LOGIN`);
    await admin.query(`CREATE ROLE ${app} LOGIN`);
    await admin.query(`CREATE DATABASE ${dbName} OWNER ${owner}`);
    await admin.end();
    // pgcrypto-free schema: gen_random_uuid is core since PostgreSQL 13.
    server = await startServer(
      loadConfig({
        NODE_ENV: "test",
        HOST: "127.0.0.1",
        PORT: "0",
        DATA_DIR: `/tmp/bc-roles-${tag}`,
        LOG_LEVEL: "silent",
        DATABASE_URL: urlFor(app),
        DATABASE_OWNER_URL: urlFor(owner),
      }),
      { log: silentLogger },
    );
    asApp = new pg.Client({ connectionString: urlFor(app) });
    await asApp.connect();
  });

  afterAll(async () => {
    await asApp?.end();
    await server?.close();
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [dbName]);
    await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
    await admin.query(`DROP ROLE IF EXISTS ${app}`);
    await admin.query(`DROP ROLE IF EXISTS ${owner}`);
    await admin.end();
    rmSync(`/tmp/bc-roles-${tag}`, { recursive: true, force: true });
  });

  it("runs a session as the app's role, which can only read and append to the log", async () => {
    const claimant = await new Participant(server.url, "Claimant").signUp();
    const created = await claimant.http("POST", "/api/sessions", { title: "Roles", creatorRole: "claimant" });
    expect(created.status, created.text).toBe(201);
    const count = await asApp.query("SELECT count(*)::int AS n FROM session_events");
    expect(count.rows[0].n).toBeGreaterThan(0);
    for (const table of ["session_events", "session_stream_entries"]) {
      for (const sql of [
        `UPDATE ${table} SET session_id = session_id`,
        `DELETE FROM ${table}`,
        `TRUNCATE ${table} CASCADE`,
        `ALTER TABLE ${table} DISABLE TRIGGER ALL`,
        `DROP TABLE ${table} CASCADE`,
      ]) {
        await expect(asApp.query(sql), sql).rejects.toThrow(/permission denied|must be owner/);
      }
    }
    await expect(asApp.query("DROP TRIGGER session_events_append_only ON session_events")).rejects.toThrow(
      /must be owner/,
    );
    // Nothing was lost.
    const after = await asApp.query("SELECT count(*)::int AS n FROM session_events");
    expect(after.rows[0].n).toBe(count.rows[0].n);
  });
});
