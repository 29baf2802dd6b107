// PGlite on a data dir, made durable: a COMMIT returns only once its WAL is fsynced to the disk.
//
// Out of the box PGlite 0.5 on NodeFS never calls fsync, on three counts (read in the installed
// package's dist/pglite.js and its source maps):
//  1. PGlite.defaultStartParams start postgres with `-F` (fsync = off), so postgres skips every fsync.
//  2. Emscripten's NODEFS has no `stream_ops.fsync`, so the C fsync() (WASI fd_sync) succeeds without
//     calling the host, and its fdatasync() syscall is a stub that only checks the fd. With `-F` removed,
//     postgres's default wal_sync_method (fdatasync) therefore still reaches no disk.
//  3. NodeFS.syncToFs(), which PGlite awaits after each query, is empty; `relaxedDurability` only
//     decides whether that (empty) sync is awaited, so it changes nothing on NodeFS.
// So postgres itself is made to sync, the way it does on a real server: fsync on,
// wal_sync_method = fsync (the one method that reaches fd_sync), and NODEFS given an fsync that calls
// the host's fsync(2) on the file's descriptor. postgres then fsyncs the WAL segment inside COMMIT
// (XLogFlush, before the commit's result is returned), data files and pg_control at checkpoints, and
// directories after creating files, in the order its crash recovery relies on. PGlite runs postgres
// synchronously on the calling thread, so the commit's promise cannot resolve before the fsync returned.
//
// Memory. Postgres's defaults size a server's buffer pool (shared_buffers = 128MB), and PGlite's
// postgres touches all of it at start, so the WASM linear memory grew from its initial 128 MiB to
// 189 MiB, ~150 MiB of it resident, before any query (and WASM memory never shrinks). The embedded
// node's data is small and the host's page cache sits under it anyway: SHARED_BUFFERS keeps the pool
// inside the initial memory, ~30 MiB resident. And a new data dir is made by PGlite's initdb, which runs
// in a second PGlite plus the initdb module; the instance that ran it keeps all that reachable for as
// long as it is open (~450 MiB more). So a new data dir is created in a child process that then exits.
import { execFile } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { PGlite, type PGliteOptions } from "@electric-sql/pglite";
import { NodeFS } from "@electric-sql/pglite/nodefs";

/** postgres's buffer pool; wal_buffers follows it (1/32, so 512kB). */
export const SHARED_BUFFERS = "16MB";

/** PGlite's own start parameters without `-F`, with the settings a durable commit needs spelled out. */
export const DURABLE_START_PARAMS: readonly string[] = [
  ...PGlite.defaultStartParams.filter((p) => p !== "-F"),
  ...["-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "wal_sync_method=fsync"],
  ...["-c", "full_page_writes=on"],
  ...["-c", `shared_buffers=${SHARED_BUFFERS}`],
];

/** The settings openDurablePglite checks after start, as `SHOW` reports them. */
const REQUIRED_SETTINGS: Record<string, string> = {
  fsync: "on",
  synchronous_commit: "on",
  wal_sync_method: "fsync",
  full_page_writes: "on",
};

/** The parts of Emscripten's NODEFS this file uses. */
interface EmscriptenNodeFs {
  stream_ops: { fsync?: (stream: EmscriptenStream) => number };
  realPath(node: unknown): string;
}
interface EmscriptenStream {
  nfd?: number;
  node: unknown;
}

/** NodeFS whose files postgres can fsync. `walSyncs` counts the host fsyncs of WAL segments. */
export class DurableNodeFS extends NodeFS {
  walSyncs = 0;

  override async init(pg: PGlite, opts: Parameters<NodeFS["init"]>[1]) {
    const { emscriptenOpts } = await super.init(pg, opts);
    const installFsync = (mod: { NODEFS: EmscriptenNodeFs }) => {
      const nodefs = mod.NODEFS;
      nodefs.stream_ops.fsync = (stream) => {
        const hostPath = nodefs.realPath(stream.node);
        try {
          fsyncHost(stream.nfd, hostPath);
        } catch (err) {
          fsyncFailed(hostPath, err);
        }
        if (hostPath.includes(`${path.sep}pg_wal${path.sep}`)) this.walSyncs++;
        return 0;
      };
    };
    return {
      emscriptenOpts: {
        ...emscriptenOpts,
        // After NodeFS's own preRun, which mounts the data dir; NODEFS is this module instance's own.
        preRun: [...(emscriptenOpts.preRun ?? []), installFsync as (mod: unknown) => void],
      },
    };
  }
}

/**
 * One statement as a transaction of its own that commits without waiting for the disk (Db.relaxed): SET LOCAL
 * synchronous_commit = off, so its COMMIT fsyncs nothing; its WAL reaches the disk with the next durable commit, which
 * flushes the WAL up to its own record and so everything before it.
 */
export function relaxedQuery<T>(pglite: PGlite, sql: string, params?: unknown[]) {
  return pglite.transaction(async (t) => {
    await t.exec("SET LOCAL synchronous_commit = off");
    return t.query<T>(sql, params);
  });
}

/**
 * A failed fsync leaves the page cache in a state nobody can trust (postgres PANICs on it and
 * recovers from the WAL at restart). Inside PGlite an error here does not surface either: its loop
 * retries the interrupted message forever, blocking the event loop. So do what postgres does: stop
 * the process now, before the commit can be acknowledged; the next start replays the WAL on disk.
 */
function fsyncFailed(hostPath: string, err: unknown): never {
  const reason = err instanceof Error ? err.message : String(err);
  fs.writeSync(2, `FATAL: fsync of ${hostPath} failed (${reason}); stopping so no commit is acknowledged\n`);
  process.exit(FSYNC_FAILED_EXIT_CODE);
}

/** The exit code after a failed fsync (EX_IOERR). */
export const FSYNC_FAILED_EXIT_CODE = 74;

function fsyncHost(fd: number | undefined, hostPath: string): void {
  // A stream NODEFS opened has its host descriptor; otherwise (none seen in practice) open the path.
  if (typeof fd === "number") {
    fs.fsyncSync(fd);
    return;
  }
  const own = fs.openSync(hostPath, "r");
  try {
    fs.fsyncSync(own);
  } finally {
    fs.closeSync(own);
  }
}

/** fsyncs every file and directory under dir (bottom-up), as postgres does before crash recovery. */
export function fsyncTree(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) fsyncTree(p);
    else if (entry.isFile()) fsyncHost(undefined, p);
  }
  fsyncHost(undefined, dir);
}

/**
 * Opens PGlite on dataDir so that every acknowledged commit is on the disk, or throws.
 * Checks at start that the settings took and that a commit really fsyncs the WAL (a probe
 * transaction), so a PGlite upgrade that changes any of the above fails here, not silently.
 */
export async function openDurablePglite(
  dataDir: string,
  opts: Omit<PGliteOptions, "fs" | "dataDir" | "startParams"> = {},
): Promise<PGlite> {
  if (!fs.existsSync(path.join(dataDir, "PG_VERSION")) && opts.loadDataDir === undefined) {
    await initDataDirInChild(dataDir, opts);
  }
  const fsImpl = new DurableNodeFS(dataDir);
  const pglite = await PGlite.create({ ...opts, fs: fsImpl, startParams: [...DURABLE_START_PARAMS] });
  try {
    // A new data dir is written by PGlite's initdb through NODEFS without any fsync, and a data
    // dir from an earlier, non-durable run may hold writes only in the page cache: sync it all once.
    fsyncTree(path.resolve(dataDir));
    for (const [name, want] of Object.entries(REQUIRED_SETTINGS)) {
      const got = (await pglite.query<Record<string, string>>(`SHOW ${name}`)).rows[0]?.[name];
      if (got !== want) throw new Error(`PGlite started with ${name} = ${got}, not ${want}`);
    }
    const before = fsImpl.walSyncs;
    await pglite.transaction(async (t) => {
      // A transactional WAL record (nothing stored in any table), so that COMMIT must flush the WAL.
      await t.query("SELECT pg_logical_emit_message(true, 'backchannel', 'durability probe')");
    });
    if (fsImpl.walSyncs === before) {
      throw new Error("PGlite committed without fsyncing its WAL: refusing to run non-durably");
    }
  } catch (err) {
    await pglite.close().catch(() => {});
    throw err;
  }
  return pglite;
}

/**
 * Runs PGlite's initdb on dataDir in a child process, so that the memory it takes (see the top of
 * this file) goes with that process. Nothing is fsynced there: openDurablePglite fsyncs the whole
 * data dir once it has opened it, before any commit. The child loads PGlite's CommonJS build, so it
 * needs no TypeScript loader.
 */
async function initDataDirInChild(
  dataDir: string,
  opts: Pick<PGliteOptions, "username" | "database" | "initDbStartParams">,
): Promise<void> {
  const require = createRequire(import.meta.url);
  const settings = {
    username: opts.username,
    database: opts.database,
    initDbStartParams: opts.initDbStartParams,
  };
  const script = `
    const [pglitePath, nodefsPath, dataDir, settings] = process.argv.slice(1);
    const { PGlite } = require(pglitePath);
    const { NodeFS } = require(nodefsPath);
    PGlite.create({ ...JSON.parse(settings), fs: new NodeFS(dataDir) })
      .then((pg) => pg.close())
      .then(() => process.exit(0), (err) => { console.error(err?.stack ?? String(err)); process.exit(1); });
  `;
  const pglitePaths = [
    require.resolve("@electric-sql/pglite"),
    require.resolve("@electric-sql/pglite/nodefs"),
  ];
  const args = ["-e", script, ...pglitePaths, dataDir, JSON.stringify(settings)];
  const { NODE_OPTIONS: _, ...env } = process.env;
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, args, { env, maxBuffer: 16 * 2 ** 20 }, (err, _stdout, stderr) => {
      if (err)
        reject(new Error(`PGlite could not create the data dir ${dataDir}: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}
