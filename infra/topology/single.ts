// One server process on the embedded backend (PGlite under DATA_DIR, the in-process scheduler, limits in memory), run
// from source (the code `npm start --workspace server` runs bundled, here through tsx), with the topology's process handling: a process group of its
// own, an orphan guard, output to a log file, kill(signal) and restart() on the same port and the same DATA_DIR.
// For tests that kill the single-node deployment outright (infra/test/failure).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  baseEnv,
  cleanUpAtExit,
  freePort,
  ORPHAN_GUARD,
  SERVER_DIR,
  type Started,
  sharedSecrets,
  signalGroup,
  startProcess,
  stopProcess,
  type TopologyNode,
  waitReady,
} from "./start";

export interface SingleNodeOptions {
  /** Added to (and overriding) the node's environment. */
  env?: Record<string, string>;
  /** LOG_LEVEL (default "info"); the output goes to <tempDir>/embedded.log. */
  logLevel?: string;
  keepTemp?: boolean;
  readyTimeoutMs?: number;
}

export interface SingleNode extends TopologyNode {
  /** DATA_DIR: PGlite's files, kept across restart() */
  dataDir: string;
  tempDir: string;
  /** Stops the process (SIGTERM) and removes tempDir (unless keepTemp). Idempotent. */
  stop(): Promise<void>;
}

export async function startSingleNode(options: SingleNodeOptions = {}): Promise<SingleNode> {
  const tempDir = mkdtempSync(path.join(tmpdir(), "bc-single-"));
  const dataDir = path.join(tempDir, "data");
  const logFile = path.join(tempDir, "embedded.log");
  const port = await freePort();
  const metricsPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = { ...baseEnv() };
  // The embedded backend: no service may leak in from the caller's environment.
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  Object.assign(env, {
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    ROLE: "all",
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    METRICS_HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    ...sharedSecrets(),
    ALLOWED_ORIGINS: url,
    PUBLIC_URL: url,
    LOG_LEVEL: options.logLevel ?? "info",
    ...options.env,
  });
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  // If the owner exits without stop(), the process group is killed by start.ts's exit hook; the files go here.
  const forget = cleanUpAtExit(() => {
    if (!options.keepTemp) rmSync(tempDir, { recursive: true, force: true });
  });
  let current: Started | undefined;
  let stopped = false;
  const launch = async () => {
    if (stopped) throw new Error("the node is stopped");
    const p = startProcess(process.execPath, ["--import", "tsx", "--import", ORPHAN_GUARD, "src/main.ts"], {
      cwd: SERVER_DIR,
      env,
      logFile,
    });
    current = p;
    await waitReady(`${url}/readyz`, p, "embedded node", logFile, readyTimeoutMs);
  };
  const node: SingleNode = {
    name: "embedded",
    role: "web",
    get pid() {
      return current?.pid ?? 0;
    },
    port,
    url,
    metricsPort,
    logFile,
    dataDir,
    tempDir,
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
        signalGroup(p.pid, "SIGCONT");
        await stopProcess(p);
      }
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (current) {
        signalGroup(current.pid, "SIGCONT");
        await stopProcess(current);
      }
      if (!options.keepTemp) rmSync(tempDir, { recursive: true, force: true });
      forget();
    },
  };
  try {
    await launch();
  } catch (err) {
    await node.stop().catch(() => {});
    throw err;
  }
  return node;
}
