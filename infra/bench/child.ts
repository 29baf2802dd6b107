// Starts server-child.ts in a process of its own (with `ulimit -n` raised as far as this machine's hard limit
// allows) and talks to it over IPC: where it listens, its memory and CPU, and a graceful close. The child runs
// compiled (bundled once per bench run as server/build.mjs bundles dist/main.js for `npm start`), so the process
// measured holds no TypeScript loader: what production runs.
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildMode, FromChild, ToChild, Usage } from "./server-child";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const START_TIMEOUT_MS = 120_000;

let compiled: Promise<string> | undefined;
/** server-child.ts and the server code it starts, as one ES module under bench/.build (bundled once per run). */
function compiledChild(): Promise<string> {
  compiled ??= (async () => {
    const outdir = path.join(HERE, ".build");
    const { bundleServer } = await import("../../server/build.mjs");
    // The bench's own npm packages (the floor's socket.io-client) stay in node_modules too.
    const infra = JSON.parse(readFileSync(path.join(HERE, "../package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    const own = Object.keys(infra.dependencies).filter((d) => !d.startsWith("@backchannel/"));
    await bundleServer(path.join(HERE, "server-child.ts"), outdir, own);
    return path.join(outdir, "server-child.mjs");
  })();
  return compiled;
}

export interface ChildServer {
  mode: ChildMode;
  url: string;
  pid: number;
  /** where the server under test serves /metrics (backchannel mode) */
  metricsUrl?: string;
  /** the open-files limit the child runs with */
  nofile: number;
  /** memory and CPU now; `gc` runs a full collection first (the child has --expose-gc) */
  usage(gc?: boolean): Promise<Usage>;
  /** graceful close; resolves with the server's warning and error log lines (backchannel mode) */
  close(): Promise<ChildLog>;
}

export interface ChildLog {
  warnings: string[];
  errors: string[];
  /** floor mode: each command's durable commit alone, ms */
  commitMs: number[];
}

let hardLimitCache: number | undefined;
/** The hard open-files limit of this shell (what a child may raise its soft limit to without privileges). */
export function hardNofileLimit(): number {
  if (hardLimitCache !== undefined) return hardLimitCache;
  try {
    const out = execFileSync("bash", ["-c", "ulimit -Hn"], { encoding: "utf8" }).trim();
    hardLimitCache = out === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(out);
  } catch {
    hardLimitCache = 1024;
  }
  return hardLimitCache;
}

/**
 * The bench's own environment without what says where a server keeps its state: a server under test gets those from
 * its backend alone. (Inherited, the bench's DATABASE_URL and REDIS_URL put the "embedded" server on PostgreSQL.)
 */
function inheritedEnv(): NodeJS.ProcessEnv {
  const {
    DATABASE_URL: _db,
    REDIS_URL: _redis,
    DATA_DIR: _dir,
    MASTER_KEY: _key,
    REDIS_PREFIX: _prefix,
    ...rest
  } = process.env;
  return rest;
}

/** The Node flags the bench gives every server under test (here and in the two-node topology). */
export function benchNodeFlags(): string[] {
  return [
    // BENCH_CPU_PROF=<dir>: each server under test writes a V8 CPU profile there when it stops.
    ...(process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
    // BENCH_NODE_FLAGS="--flag ...": more flags for each server under test (trying a V8 setting, say).
    ...(process.env.BENCH_NODE_FLAGS ?? "").split(/\s+/).filter(Boolean),
  ];
}

export async function startChild(
  mode: ChildMode,
  env: Record<string, string>,
  opts: { nofile?: number } = {},
): Promise<ChildServer> {
  const nofile = Math.min(opts.nofile ?? 4096, hardNofileLimit());
  const child = spawn(
    "bash",
    [
      "-c",
      `ulimit -n ${nofile} && exec "$@"`,
      "bench-server",
      process.execPath,
      "--expose-gc",
      ...benchNodeFlags(),
      await compiledChild(),
    ],
    {
      cwd: path.resolve(HERE, ".."),
      env: { ...inheritedEnv(), ...env, BENCH_CHILD_MODE: mode, NODE_OPTIONS: "" },
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    },
  );
  let stderr = "";
  child.stderr?.on("data", (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let nextId = 1;
  const pending = new Map<number, (m: FromChild) => void>();
  child.on("message", (m: FromChild) => {
    if ("id" in m) {
      pending.get(m.id)?.(m);
      pending.delete(m.id);
    }
  });
  const ask = (msg: { op: "usage"; gc: boolean } | { op: "close" }): Promise<FromChild> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.send({ ...msg, id } as ToChild, (err) => {
        if (err) {
          pending.delete(id);
          reject(err);
        }
      });
      void exited.then(() => {
        if (pending.delete(id)) reject(new Error(`the ${mode} server exited: ${stderr.trim().slice(-500)}`));
      });
    });

  const ready = await new Promise<{ url: string; pid: number; metricsUrl?: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the ${mode} server did not start in time`)),
      START_TIMEOUT_MS,
    );
    child.on("message", (m: FromChild) => {
      if (m.op === "ready") {
        clearTimeout(timer);
        resolve({ url: m.url, pid: m.pid, metricsUrl: m.metricsUrl });
      } else if (m.op === "failed") {
        clearTimeout(timer);
        reject(new Error(`the ${mode} server failed to start: ${m.error}`));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the ${mode} server exited with ${code} before it was ready: ${stderr.trim()}`));
    });
  }).catch((err) => {
    child.kill("SIGKILL");
    throw err;
  });

  let closed: Promise<ChildLog> | undefined;
  return {
    mode,
    url: ready.url,
    pid: ready.pid,
    metricsUrl: ready.metricsUrl,
    nofile,
    async usage(gc = false) {
      const m = await ask({ op: "usage", gc });
      if (m.op !== "usage") throw new Error("unexpected answer");
      return m.usage;
    },
    close() {
      closed ??= (async () => {
        if (child.exitCode !== null)
          return { warnings: [], errors: [`exited early: ${stderr.trim()}`], commitMs: [] };
        const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
        try {
          const m = await ask({ op: "close" });
          await exited;
          return m.op === "closed"
            ? { ...m.log, commitMs: m.commitMs }
            : { warnings: [], errors: [], commitMs: [] };
        } catch (err) {
          child.kill("SIGKILL");
          return { warnings: [], errors: [err instanceof Error ? err.message : String(err)], commitMs: [] };
        } finally {
          clearTimeout(timer);
        }
      })();
      return closed;
    },
  };
}

/** CPU used by the child between two usage samples, as a percentage of one core. */
export function cpuPercent(a: Usage, b: Usage): number {
  const cpuMs = (b.cpuUserUs + b.cpuSystemUs - a.cpuUserUs - a.cpuSystemUs) / 1000;
  const wallMs = b.at - a.at;
  return wallMs > 0 ? Math.round((cpuMs / wallMs) * 1000) / 10 : Number.NaN;
}
