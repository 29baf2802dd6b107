// The embedded database acknowledges a commit only once it is on the disk: every committed transaction
// is followed by an fsync of the WAL segment it was written to before it resolves (traced here at the
// node:fs calls of PGlite opened by openDurablePglite in this thread, and, when strace is installed, at the
// system calls of a child process whose server-side Db runs it in its own thread, as the server does), and
// what was acknowledged survives the process being killed with SIGKILL.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs, { mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { PGlite } from "@electric-sql/pglite";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { openDb } from "../../src/store/db";
import { FSYNC_FAILED_EXIT_CODE, openDurablePglite, relaxedQuery } from "../../src/store/pglite-durable";
import { leftToNewcomerPass } from "../support/db";

/** Needs no service: .ci/run's first pass leaves it to the newcomer pass (support/db.ts). */
const elsewhere = leftToNewcomerPass("the embedded database's durability proofs (PGlite only)");

const WAL_SEGMENT = /\/pg_wal\/[0-9A-F]{24}$/;

type Event = { mark: string } | { sync: string };

function fdPath(fd: number): string {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return `fd ${fd}`;
  }
}

/** The events between the marks `from` and `to` (exclusive); throws when either is missing. */
function between(events: Event[], from: string, to: string): Event[] {
  const start = events.findIndex((e) => "mark" in e && e.mark === from);
  const end = events.findIndex((e) => "mark" in e && e.mark === to);
  if (start < 0 || end < 0 || end < start) throw new Error(`marks ${from} .. ${to} not found in order`);
  return events.slice(start + 1, end);
}

const walSyncsIn = (events: Event[], dataDir: string) =>
  events.filter((e) => "sync" in e && e.sync.startsWith(dataDir) && WAL_SEGMENT.test(e.sync));

// PGlite as the database thread runs it (pglite-worker.ts), here in this thread so that the node:fs calls can be seen;
// the SIGKILL test below goes through openDb and its thread, traced with strace.
describe.skipIf(elsewhere)("PGlite on a data dir: durable commits", () => {
  // Real path: the traces show the paths behind the fds, with any symlink in TMPDIR resolved.
  const root = realpathSync(mkdtempSync(path.join(tmpdir(), "bc-durable-")));
  const dataDir = path.join(root, "pglite");
  const events: Event[] = [];
  let db: PGlite;

  beforeAll(async () => {
    // PGlite's NODEFS and our fsync reach the disk through this same node:fs module object.
    for (const name of ["fsyncSync", "fdatasyncSync"] as const) {
      const real = fs[name];
      vi.spyOn(fs, name).mockImplementation((fd: number) => {
        events.push({ sync: fdPath(fd) });
        real(fd);
      });
    }
    db = await openDurablePglite(dataDir);
    await db.query("CREATE TABLE acct (id int PRIMARY KEY, n int NOT NULL)");
    await db.query("CREATE TABLE ev (id bigserial PRIMARY KEY, acct int NOT NULL, body text NOT NULL)");
    await db.query("INSERT INTO acct VALUES (1, 0)");
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await db?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("fsyncs the WAL inside every COMMIT, before transaction() resolves", async () => {
    const commits = 60;
    for (let i = 0; i < commits; i++) {
      events.push({ mark: `begin ${i}` });
      await db.transaction(async (q) => {
        await q.query("SELECT n FROM acct WHERE id = 1 FOR UPDATE");
        await q.query("INSERT INTO ev (acct, body) VALUES (1, $1)", ["x".repeat(300)]);
        await q.query("UPDATE acct SET n = n + 1 WHERE id = 1");
        events.push({ mark: `body ${i}` }); // the statements are done; only COMMIT is left
      });
      events.push({ mark: `acked ${i}` });
    }
    const unsynced = Array.from({ length: commits }, (_, i) => i).filter(
      (i) => walSyncsIn(between(events, `body ${i}`, `acked ${i}`), dataDir).length === 0,
    );
    expect(unsynced).toEqual([]);
    expect((await db.query("SELECT n FROM acct")).rows).toEqual([{ n: commits }]);
  });

  it("fsyncs the WAL for a write outside transaction() too (autocommit)", async () => {
    events.push({ mark: "begin autocommit" });
    await db.query("INSERT INTO ev (acct, body) VALUES (1, 'single statement')");
    events.push({ mark: "acked autocommit" });
    expect(walSyncsIn(between(events, "begin autocommit", "acked autocommit"), dataDir)).not.toEqual([]);
  });

  it("does not fsync for a relaxed write (Db.relaxed); the next durable commit fsyncs, and keeps both", async () => {
    events.push({ mark: "begin relaxed" });
    await relaxedQuery(db, "INSERT INTO ev (acct, body) VALUES (1, 'relaxed')");
    events.push({ mark: "acked relaxed" });
    await db.query("INSERT INTO ev (acct, body) VALUES (1, 'durable after relaxed')");
    events.push({ mark: "acked durable" });
    expect(walSyncsIn(between(events, "begin relaxed", "acked relaxed"), dataDir)).toEqual([]);
    expect(walSyncsIn(between(events, "acked relaxed", "acked durable"), dataDir)).not.toEqual([]);
    const bodies = await db.query<{ body: string }>(
      "SELECT body FROM ev WHERE body LIKE '%relaxed' ORDER BY id",
    );
    expect(bodies.rows.map((r) => r.body)).toEqual(["relaxed", "durable after relaxed"]);
  });

  it("does not fsync for a read-only transaction (nothing to make durable)", async () => {
    events.push({ mark: "begin read" });
    await db.transaction((q) => q.query("SELECT count(*) FROM ev"));
    events.push({ mark: "acked read" });
    expect(walSyncsIn(between(events, "begin read", "acked read"), dataDir)).toEqual([]);
  });
});

describe.skipIf(elsewhere)("PGlite on a data dir: killed with SIGKILL after acknowledging", () => {
  const root = realpathSync(mkdtempSync(path.join(tmpdir(), "bc-durable-kill-")));
  const dataDir = path.join(root, "pglite");
  const serverDir = fileURLToPath(new URL("../..", import.meta.url));
  const childScript = fileURLToPath(new URL("./durability-child.ts", import.meta.url));
  const failFsyncPreload = fileURLToPath(new URL("./fail-fsync-preload.cjs", import.meta.url));
  const traceFile = path.join(root, "strace.txt");
  const commits = 25;
  let child: ChildProcess | undefined;

  afterEach(() => {
    if (child?.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("keeps every acknowledged commit, each fsynced before its acknowledgement (strace when installed)", {
    timeout: 120_000,
  }, async () => {
    const nodeArgs = ["--import", "tsx", childScript, dataDir, String(commits)];
    const strace = hasStrace();
    if (!strace) console.warn("strace not installed: checking SIGKILL survival without a syscall trace");
    // -f: every thread; -y: the path behind each fd; only fsync/fdatasync and write(2) are traced.
    child = strace
      ? spawn(
          "strace",
          [
            "-f",
            "-y",
            "-qq",
            "-o",
            traceFile,
            "-e",
            "trace=fsync,fdatasync,write",
            process.execPath,
            ...nodeArgs,
          ],
          { cwd: serverDir, stdio: ["ignore", "pipe", "inherit"] },
        )
      : spawn(process.execPath, nodeArgs, { cwd: serverDir, stdio: ["ignore", "pipe", "inherit"] });
    const acked = await readUntilDone(child);
    expect(acked).toEqual(Array.from({ length: commits }, (_, i) => i + 1));

    // No clean shutdown: no checkpoint, nothing flushed by close().
    const exited = new Promise((resolve) => child?.once("exit", resolve));
    killTraced(child, strace);
    await exited;

    if (strace) {
      const trace = readFileSync(traceFile, "utf8").split("\n");
      const missing = acked.filter((n) => !walFsyncBetween(trace, `begin ${n}`, `acked ${n}`, dataDir));
      // On a failure, the trace between the marks of the first commit without a WAL fsync says why.
      const excerpt =
        missing.length > 0 ? traceBetween(trace, `begin ${missing[0]}`, `acked ${missing[0]}`) : "";
      expect(missing, excerpt).toEqual([]);
    }

    const reopened = await openDb({ dataDir });
    try {
      const rows = await reopened.query<{ n: number }>("SELECT n FROM kept ORDER BY n");
      expect(rows.rows.map((r) => r.n)).toEqual(acked);
    } finally {
      await reopened.close();
    }
  });

  it("stops the process, unacknowledged, when an fsync fails; the next start recovers", {
    timeout: 120_000,
  }, async () => {
    // The data dir the previous test left, with rows 1..commits.
    // The fault goes in through a preload, which Node runs in every thread, the database's included: once the marker
    // file exists, every fsync fails with EIO.
    const marker = path.join(root, "fail-fsync");
    child = spawn(
      process.execPath,
      ["--import", "tsx", "--require", failFsyncPreload, childScript, dataDir, "0", "fail-fsync"],
      {
        cwd: serverDir,
        env: { ...process.env, FAIL_FSYNC_MARKER: marker },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    let err = "";
    child.stdout?.on("data", (chunk) => {
      out += chunk;
    });
    child.stderr?.on("data", (chunk) => {
      err += chunk;
    });
    const code = await new Promise((resolve) => child?.once("exit", (c, signal) => resolve(c ?? signal)));
    expect(out).toMatch(/^begin fail$/m);
    expect(out).not.toMatch(/^acked fail$/m);
    expect(err).toMatch(/FATAL: fsync of .*pg_wal.* failed/);
    expect(code).toBe(FSYNC_FAILED_EXIT_CODE);

    const reopened = await openDb({ dataDir });
    try {
      const rows = await reopened.query<{ n: number }>("SELECT n FROM kept WHERE n <= $1 ORDER BY n", [
        commits,
      ]);
      expect(rows.rows.map((r) => r.n)).toEqual(Array.from({ length: commits }, (_, i) => i + 1));
    } finally {
      await reopened.close();
    }
  });
});

function hasStrace(): boolean {
  try {
    execFileSync("strace", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** SIGKILL to the child, or under strace to the traced node (strace then writes out its trace and exits). */
function killTraced(proc: ChildProcess, underStrace: boolean): void {
  if (!underStrace || proc.pid === undefined) {
    proc.kill("SIGKILL");
    return;
  }
  const kids = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim().split(/\s+/);
  for (const kid of kids.filter(Boolean)) process.kill(Number(kid), "SIGKILL");
}

/** The n of every "acked n" line the child printed, once it printed "done". */
function readUntilDone(proc: ChildProcess): Promise<number[]> {
  return new Promise((resolve, reject) => {
    let out = "";
    proc.stdout?.setEncoding("utf8");
    proc.stdout?.on("data", (chunk: string) => {
      out += chunk;
      if (/^done$/m.test(out)) {
        resolve([...out.matchAll(/^acked (\d+)$/gm)].map((m) => Number(m[1])));
      }
    });
    proc.once("exit", (code, signal) =>
      reject(new Error(`child exited (${code ?? signal}) before done:\n${out}`)),
    );
  });
}

/**
 * Whether the strace output (-f: lines start with the pid) has, between the write(1, "<from>\n") and
 * write(1, "<to>\n") lines, an fsync or fdatasync of a WAL segment under dataDir that returned 0 (on
 * one line, or split by another thread's call into "<unfinished ...>" and "<... fsync resumed>").
 */
function traceBetween(trace: string[], from: string, to: string): string {
  const at = (mark: string) => trace.findIndex((l) => l.includes(`"${mark}\\n"`));
  return trace
    .slice(Math.max(0, at(from)), at(to) + 1)
    .join("\n")
    .slice(0, 4000);
}

function walFsyncBetween(trace: string[], from: string, to: string, dataDir: string): boolean {
  const markLine = (mark: string) =>
    trace.findIndex((l) => l.includes("write(1<") && l.includes(`"${mark}\\n"`));
  const start = markLine(from);
  const end = markLine(to);
  if (start < 0 || end < start) throw new Error(`marks ${from} .. ${to} not found in the trace`);
  const call = /^(\d+) +(fsync|fdatasync)\(\d+<([^>]+)>(?:\) += (-?\d+)| <unfinished \.\.\.>)$/;
  const lines = trace.slice(start + 1, end);
  return lines.some((line, i) => {
    const [, pid, name, file = "", result] = call.exec(line) ?? [];
    if (!file.startsWith(dataDir) || !WAL_SEGMENT.test(file)) return false;
    if (result !== undefined) return result === "0";
    const resumed = `${pid} <... ${name} resumed>) = 0`;
    // strace pads the result column with spaces: "123 <... fsync resumed>)      = 0".
    return lines.slice(i + 1).some((l) => l.replace(/ +/g, " ") === resumed);
  });
}
