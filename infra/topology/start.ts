// The production topology on one machine, without Docker: a database of this run's own on the local PostgreSQL, a
// key prefix of its own on the local Redis, two (or more) `ROLE=web` nodes and one `ROLE=worker`, each a separate
// process running the server from source (`tsx src/main.ts`, NODE_ENV production: the code `npm start` runs
// bundled), and a proxy in front (nginx when installed, else a Node proxy; see proxy.ts). docs/operations.md,
// "Running the production topology on one machine".
//
// Every child runs in a process group of its own and is stopped with its group. If the owner of the topology exits
// without calling stop(), an exit hook kills the groups and drops the database; if it is killed outright (SIGKILL),
// each child notices it lost its parent (orphan-guard.mjs, run-guarded.mjs) and stops itself.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createECDH, generateKeyPairSync, randomBytes } from "node:crypto";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Redis } from "ioredis";
import { openDb } from "../../server/src/store/db";
import { findNginx, type NodeProxy, nginxConfig, startNodeProxy, type Upstream } from "./proxy";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SERVER_DIR = path.resolve(HERE, "../../server");
export const ORPHAN_GUARD = pathToFileURL(path.join(HERE, "orphan-guard.mjs")).href;
const RUN_GUARDED = path.join(HERE, "run-guarded.mjs");

export const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres";
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

export interface TopologyOptions {
  /** A PostgreSQL URL to create this run's database through. Default: DATABASE_URL, else the local server. */
  databaseUrl?: string;
  /** Default: REDIS_URL, else redis://127.0.0.1:6379. */
  redisUrl?: string;
  /** How many ROLE=web nodes (default 2). */
  webNodes?: number;
  /** "auto" (default): nginx when installed, else the Node proxy. */
  proxy?: "auto" | "nginx" | "node";
  /** The proxy's port; default: a free one. */
  proxyPort?: number;
  /** Added to (and overriding) every node's environment, e.g. rate limits for a benchmark. */
  env?: Record<string, string>;
  /** LOG_LEVEL of the nodes (default "info"); their output goes to <tempDir>/<name>.log. */
  logLevel?: string;
  /** Keep <tempDir> (logs, nginx.conf) after stop(). */
  keepTemp?: boolean;
  /** How long one process may take to answer /readyz (default 60 s). */
  readyTimeoutMs?: number;
  /** More Node flags for every node (the bench's BENCH_CPU_PROF and BENCH_NODE_FLAGS). */
  nodeFlags?: string[];
}

export interface TopologyNode {
  name: string;
  role: "web" | "worker";
  /** the current process's id (changes with restart()) */
  pid: number;
  port: number;
  /** the node itself, bypassing the proxy */
  url: string;
  metricsPort: number;
  logFile: string;
  alive(): boolean;
  /** Signals the node's process group; resolves once it has exited (at once for SIGSTOP and SIGCONT). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the node if it runs (SIGTERM), starts it again on the same ports and waits for /readyz. */
  restart(): Promise<void>;
}

export interface Topology {
  /** the proxy: where clients go */
  url: string;
  /** the web nodes */
  nodes: TopologyNode[];
  worker: TopologyNode;
  proxy: { kind: "nginx" | "node"; port: number; pid: number; config?: string; logFile?: string };
  /** this run's database (on the server of databaseUrl) and its URL */
  database: { name: string; url: string };
  redis: { url: string; prefix: string };
  tempDir: string;
  /** every process this topology started and that still runs (process group leaders) */
  pids(): number[];
  /** Stops everything, drops the database, deletes the Redis keys, removes tempDir (unless keepTemp). Idempotent. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------- processes

/** Process groups still running, killed by the exit hook if their owner never stops them. */
const liveGroups = new Set<number>();
const exitCleanups = new Set<() => void>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const pid of liveGroups) signalGroup(pid, "SIGKILL");
    for (const cleanup of exitCleanups) {
      try {
        cleanup();
      } catch {}
    }
  });
}

/** Runs `cleanup` (synchronous, best effort) if this process exits before the returned function is called. */
export function cleanUpAtExit(cleanup: () => void): () => void {
  exitCleanups.add(cleanup);
  installExitHook();
  return () => {
    exitCleanups.delete(cleanup);
  };
}

export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface Started {
  child: ChildProcess;
  pid: number;
  exited: Promise<void>;
  done: boolean;
}

export function startProcess(
  command: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; logFile: string },
) {
  const fd = openSync(opts.logFile, "a");
  let child: ChildProcess;
  try {
    // detached: a new session and process group, so one signal reaches the process and whatever it forks.
    child = spawn(command, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ["ignore", fd, fd] });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${command} (see ${opts.logFile})`);
  liveGroups.add(pid);
  installExitHook();
  const started: Started = { child, pid, done: false, exited: Promise.resolve() };
  started.exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      started.done = true;
      resolve();
    });
  });
  // Reap the rest of the group (nginx workers, anything a node forked) once the leader is gone.
  void started.exited.then(() => {
    signalGroup(pid, "SIGKILL");
    liveGroups.delete(pid);
  });
  return started;
}

/** Signals the group, waits up to `graceMs` for the leader to exit, then kills the group. */
export async function stopProcess(
  p: Started,
  signal: NodeJS.Signals = "SIGTERM",
  graceMs = 20_000,
): Promise<void> {
  if (!p.done) {
    signalGroup(p.pid, signal);
    const timer = new Promise<"late">((r) => setTimeout(() => r("late"), graceMs).unref());
    if ((await Promise.race([p.exited, timer])) === "late") {
      signalGroup(p.pid, "SIGKILL");
      await p.exited;
    }
  }
  signalGroup(p.pid, "SIGKILL");
  liveGroups.delete(p.pid);
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * A free port on 127.0.0.1, below the kernel's ephemeral range when it can: a node restarted on its ports (after a
 * kill) must find them still free, and a port from the ephemeral range may meanwhile be taken by any outgoing
 * connection on the machine (another test run's, say). Only another listener can take one below it.
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralRange();
  for (let attempt = 0; attempt < 50 && low > 11_000; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if (await canListen(port)) return port;
  }
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** The kernel's range for outgoing connections' local ports (Linux; elsewhere the IANA range). */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low && high) return [low, high];
  } catch {}
  return [49_152, 65_535];
}

/** Polls `url` until it answers 200; fails early when the process exits. */
export async function waitReady(url: string, p: Started, what: string, logFile: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (p.done)
      throw new Error(`${what} exited before it was ready. Last lines of ${logFile}:\n${tail(logFile)}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {}
    if (Date.now() > deadline)
      throw new Error(
        `${what} not ready after ${timeoutMs} ms (${url}). Last lines of ${logFile}:\n${tail(logFile)}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

// ---------------------------------------------------------------- storage

async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = await openDb({ databaseUrl: adminUrl }).catch((err: Error) => {
    throw new Error(`PostgreSQL is not reachable at ${new URL(adminUrl).host}: ${err.message}`);
  });
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = await openDb({ databaseUrl: adminUrl });
  try {
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [name]);
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  } finally {
    await admin.close();
  }
}

/** Every key under the prefix (random hex: nobody else's). */
async function deleteKeys(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  let deleted = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    await redis.quit().catch(() => {});
  }
  return deleted;
}

/** The exit hook's cleanup: synchronous, so through psql and redis-cli, when installed; best effort. */
function dropSync(adminUrl: string, database: string, redisUrl: string, prefix: string): void {
  spawnSync("psql", [adminUrl, "-qc", `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`], {
    stdio: "ignore",
    timeout: 10_000,
  });
  const script =
    "local c = '0' repeat local r = redis.call('SCAN', c, 'MATCH', ARGV[1], 'COUNT', 1000) c = r[1] " +
    "for _, k in ipairs(r[2]) do redis.call('DEL', k) end until c == '0' return 0";
  spawnSync("redis-cli", ["-u", redisUrl, "EVAL", script, "0", `${prefix}*`], {
    stdio: "ignore",
    timeout: 10_000,
  });
}

// ---------------------------------------------------------------- secrets shared by every node

export function sharedSecrets(): Record<string, string> {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const vapidPrivate = Buffer.alloc(32);
  const raw = ecdh.getPrivateKey();
  raw.copy(vapidPrivate, 32 - raw.length);
  return {
    MASTER_KEY: randomBytes(32).toString("hex"),
    JWT_SECRET: randomBytes(48).toString("base64"),
    AUDIT_SIGNING_KEY: generateKeyPairSync("ed25519")
      .privateKey.export({ type: "pkcs8", format: "pem" })
      .toString(),
    VAPID_PUBLIC_KEY: ecdh.getPublicKey().toString("base64url"),
    VAPID_PRIVATE_KEY: vapidPrivate.toString("base64url"),
  };
}

/** The caller's environment minus what must not leak into a node (its own storage, a test runner's markers). */
export function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith("VITEST") || name === "TEST" || name === "NODE_OPTIONS") continue;
    env[name] = value;
  }
  return env;
}

// ---------------------------------------------------------------- the topology

export async function startTopology(options: TopologyOptions = {}): Promise<Topology> {
  const adminUrl = options.databaseUrl ?? (process.env.DATABASE_URL?.trim() || DEFAULT_DATABASE_URL);
  const redisUrl = options.redisUrl ?? (process.env.REDIS_URL?.trim() || DEFAULT_REDIS_URL);
  const webCount = options.webNodes ?? 2;
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const nginx = findNginx();
  const proxyKind = options.proxy === "node" || (options.proxy !== "nginx" && !nginx) ? "node" : "nginx";
  if (proxyKind === "nginx" && !nginx)
    throw new Error("proxy: nginx was asked for but is not installed (apt-get install -y nginx-light)");

  const id = randomBytes(4).toString("hex");
  const tempDir = mkdtempSync(path.join(tmpdir(), `bc-topology-${id}-`));
  const databaseName = `bc_topo_${process.pid}_${id}`;
  const prefix = `bctopo${id}`;
  const started: Started[] = [];
  let nodeProxy: NodeProxy | undefined;
  let databaseUrl: string | undefined;
  let stopped = false;
  const exitCleanup = () => {
    if (databaseUrl) dropSync(adminUrl, databaseName, redisUrl, prefix);
    if (!options.keepTemp) rmSync(tempDir, { recursive: true, force: true });
  };
  exitCleanups.add(exitCleanup);
  installExitHook();

  const nodes: TopologyNode[] = [];
  let proxyInfo: Topology["proxy"] | undefined;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const errors: unknown[] = [];
    const attempt = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    };
    // Proxy first (no new traffic), then every node at once, each given main.ts's graceful shutdown.
    await attempt(async () => nodeProxy?.close());
    const proxyProcess = started.find((p) => p.pid === proxyInfo?.pid && proxyKind === "nginx");
    if (proxyProcess) await attempt(() => stopProcess(proxyProcess, "SIGQUIT", 5000));
    await Promise.all(started.map((p) => attempt(() => stopProcess(p))));
    if (databaseUrl) await attempt(() => dropDatabase(adminUrl, databaseName));
    await attempt(() => deleteKeys(redisUrl, prefix));
    exitCleanups.delete(exitCleanup);
    if (!options.keepTemp) rmSync(tempDir, { recursive: true, force: true });
    if (errors.length > 0) throw errors[0];
  };

  try {
    databaseUrl = await createDatabase(adminUrl, databaseName);
    const redisCheck = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
    try {
      await redisCheck.connect();
      await redisCheck.ping();
    } catch (err) {
      throw new Error(`Redis is not reachable at ${redisUrl}: ${(err as Error).message}`);
    } finally {
      redisCheck.disconnect();
    }

    const proxyPort = options.proxyPort ?? (await freePort());
    const url = `http://127.0.0.1:${proxyPort}`;
    const common: Record<string, string> = {
      NODE_ENV: "production",
      HOST: "127.0.0.1",
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      ...sharedSecrets(),
      ALLOWED_ORIGINS: `${url},http://localhost:${proxyPort}`,
      PUBLIC_URL: url,
      // One proxy, on this machine: its X-Forwarded-For entry is the client's address.
      TRUST_PROXY: "loopback",
      METRICS_HOST: "127.0.0.1",
      LOG_LEVEL: options.logLevel ?? "info",
    };

    const makeNode = async (name: string, role: "web" | "worker"): Promise<TopologyNode> => {
      const port = await freePort();
      const metricsPort = await freePort();
      const dataDir = path.join(tempDir, name);
      mkdirSync(dataDir, { recursive: true });
      const logFile = path.join(tempDir, `${name}.log`);
      const env = {
        ...baseEnv(),
        ...common,
        ROLE: role,
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        DATA_DIR: dataDir,
        ...options.env,
      };
      let current: Started | undefined;
      const launch = async () => {
        if (stopped) throw new Error("the topology is stopped");
        const p = startProcess(
          process.execPath,
          [...(options.nodeFlags ?? []), "--import", "tsx", "--import", ORPHAN_GUARD, "src/main.ts"],
          {
            cwd: SERVER_DIR,
            env,
            logFile,
          },
        );
        current = p;
        started.push(p);
        await waitReady(
          `http://127.0.0.1:${port}/readyz`,
          p,
          `${name} (ROLE=${role})`,
          logFile,
          readyTimeoutMs,
        );
      };
      const node: TopologyNode = {
        name,
        role,
        get pid() {
          return current?.pid ?? 0;
        },
        port,
        url: `http://127.0.0.1:${port}`,
        metricsPort,
        logFile,
        alive: () => current !== undefined && !current.done,
        async kill(signal: NodeJS.Signals = "SIGTERM") {
          const p = current;
          if (!p || p.done) return;
          signalGroup(p.pid, signal);
          if (signal !== "SIGSTOP" && signal !== "SIGCONT" && signal !== "SIGTSTP") await p.exited;
        },
        async restart() {
          const p = current;
          if (p && !p.done) {
            signalGroup(p.pid, "SIGCONT"); // a stopped process cannot handle SIGTERM
            await stopProcess(p);
          }
          await launch();
        },
      };
      return Object.assign(node, { launch });
    };

    const webs = await Promise.all(
      Array.from({ length: webCount }, (_, i) => makeNode(`web${i + 1}`, "web")),
    );
    const worker = await makeNode("worker", "worker");
    // The worker first: it migrates while nothing else holds the advisory lock, so the web nodes start faster.
    await (worker as TopologyNode & { launch(): Promise<void> }).launch();
    await Promise.all(webs.map((n) => (n as TopologyNode & { launch(): Promise<void> }).launch()));
    nodes.push(...webs);

    const upstreams: Upstream[] = webs.map((n) => ({ host: "127.0.0.1", port: n.port }));
    if (proxyKind === "nginx") {
      const config = path.join(tempDir, "nginx.conf");
      writeFileSync(
        config,
        nginxConfig({
          dir: tempDir,
          listen: proxyPort,
          upstreams,
          runAsRoot: process.getuid?.() === 0,
        }),
      );
      const logFile = path.join(tempDir, "nginx.log");
      const p = startProcess(
        process.execPath,
        [
          RUN_GUARDED,
          nginx as string,
          "-p",
          tempDir,
          "-e",
          path.join(tempDir, "nginx-error.log"),
          "-c",
          config,
        ],
        { cwd: tempDir, env: baseEnv(), logFile },
      );
      started.push(p);
      proxyInfo = { kind: "nginx", port: proxyPort, pid: p.pid, config, logFile };
      await waitReady(`${url}/healthz`, p, "nginx", path.join(tempDir, "nginx-error.log"), readyTimeoutMs);
    } else {
      nodeProxy = await startNodeProxy({ port: proxyPort, upstreams: () => upstreams });
      proxyInfo = { kind: "node", port: proxyPort, pid: process.pid };
    }

    return {
      url,
      nodes,
      worker,
      proxy: proxyInfo,
      database: { name: databaseName, url: databaseUrl },
      redis: { url: redisUrl, prefix },
      tempDir,
      pids: () => started.filter((p) => !p.done && isRunning(p.pid)).map((p) => p.pid),
      stop,
    };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

/**
 * What runs killed outright (SIGKILL, a power cut) left behind: databases `bc_topo_<pid>_<id>` whose process no
 * longer runs on this machine, their Redis keys (`bctopo<id>*`) and temp dirs. The pid is only meaningful on this
 * machine (and PID namespace): do not use this where other machines or containers start topologies on the same
 * PostgreSQL and Redis.
 */
export async function cleanStale(
  options: Pick<TopologyOptions, "databaseUrl" | "redisUrl"> = {},
): Promise<{ databases: string[]; redisKeys: number; dirs: string[] }> {
  const adminUrl = options.databaseUrl ?? (process.env.DATABASE_URL?.trim() || DEFAULT_DATABASE_URL);
  const redisUrl = options.redisUrl ?? (process.env.REDIS_URL?.trim() || DEFAULT_REDIS_URL);
  const admin = await openDb({ databaseUrl: adminUrl });
  let stale: { name: string; id: string }[];
  try {
    const res = await admin.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE 'bc\\_topo\\_%'",
    );
    stale = res.rows.flatMap((r) => {
      const m = /^bc_topo_(\d+)_([0-9a-f]{8})$/.exec(r.datname);
      return m && !isRunning(Number(m[1])) ? [{ name: r.datname, id: m[2] as string }] : [];
    });
  } finally {
    await admin.close();
  }
  let redisKeys = 0;
  const dirs: string[] = [];
  for (const { name, id } of stale) {
    await dropDatabase(adminUrl, name);
    redisKeys += await deleteKeys(redisUrl, `bctopo${id}`);
    for (const entry of readdirSync(tmpdir())) {
      if (entry.startsWith(`bc-topology-${id}-`)) {
        rmSync(path.join(tmpdir(), entry), { recursive: true, force: true });
        dirs.push(entry);
      }
    }
  }
  return { databases: stale.map((s) => s.name), redisKeys, dirs };
}
