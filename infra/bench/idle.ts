// Idle sockets: the server's memory per open, authenticated, idle socket, against a bare Socket.IO server's
// (same client, same count) measured in the same run. For each scale the server is a fresh child process (with
// `ulimit -n` raised: see child.ts) and the sockets come from several forked client processes (idle-client.ts),
// each from a loopback address of its own. RSS is read after a full GC before the first socket and again once all
// are open and have settled (see measure()). The Backchannel node is the embedded one
// (PGlite, in-process scheduler); its RSS before any socket is reported too.
import { type ChildProcess, fork } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { message } from "./backchannel";
import { prepareBackend } from "./backend";
import { type ChildServer, hardNofileLimit, startChild } from "./child";
import type { FromIdleClient, ToIdleClient } from "./idle-client";
import { sleep } from "./load";
import { Account } from "./participant";

const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface IdleScale {
  sockets: number;
  skipped: string | null;
  backchannel: IdleMeasure | null;
  bare: IdleMeasure | null;
}

export interface IdleMeasure {
  /** bytes, steady, after a full GC: before any socket */
  rssIdle: number;
  /** with a tenth of the sockets open, and with all of them */
  rssBefore: number;
  rssAfter: number;
  connected: number;
  failed: number;
  firstError: string | null;
  /** sockets the server counted once all were open */
  serverSockets: number;
  /** sockets closed by the server or the network while held */
  drops: number;
  connectMs: number;
  /** (rssAfter - rssBefore) / the sockets added between the two, bytes */
  perSocket: number;
}

export interface IdleOptions {
  scales: number[];
  /** sockets per client process */
  perProcess: number;
  /** how long the sockets stay open after all connected (past a 25 s ping to see pings cost nothing) */
  holdMs: number;
  /** how long RSS may take to settle after each step before it is read anyway */
  steadyMs: number;
  /** the Backchannel node's variables (rate limits raised for the run) */
  env: Record<string, string>;
  progress?: (line: string) => void;
}

/** fds beyond the sockets: the database, logs, the listener, Node itself */
const FD_MARGIN = 512;

export async function runIdleSockets(opts: IdleOptions): Promise<{ scales: IdleScale[]; errors: string[] }> {
  const errors: string[] = [];
  const scales: IdleScale[] = [];
  for (const n of opts.scales) {
    const scale: IdleScale = { sockets: n, skipped: null, backchannel: null, bare: null };
    scales.push(scale);
    const need = n + FD_MARGIN;
    if (need > hardNofileLimit()) {
      scale.skipped = `needs ulimit -n >= ${need}; this shell's hard limit is ${hardNofileLimit()} (raise it, e.g. as root: ulimit -Hn ${need * 2})`;
      opts.progress?.(`    ${n} sockets: skipped (${scale.skipped})`);
      continue;
    }
    for (const kind of ["backchannel", "bare"] as const) {
      try {
        scale[kind] = await measure(kind, n, need, opts);
        const m = scale[kind];
        opts.progress?.(
          `    ${n} sockets, ${kind}: ${m ? (m.perSocket / 1024).toFixed(1) : "?"} KiB per socket (${m?.connected} open)`,
        );
      } catch (err) {
        errors.push(`idle sockets, ${n}, ${kind}: ${message(err)}`);
      }
    }
  }
  return { scales, errors };
}

async function measure(
  kind: "backchannel" | "bare",
  n: number,
  nofile: number,
  opts: IdleOptions,
): Promise<IdleMeasure> {
  // The embedded node whatever DATABASE_URL says: its own footprint is one of the figures.
  const backend = kind === "backchannel" ? await prepareBackend({}) : null;
  const clients: ChildProcess[] = [];
  try {
    const server = await startChild(kind, { ...opts.env, ...(backend?.env ?? {}) }, { nofile });
    try {
      const idle = await steadyRss(server, opts.steadyMs);
      const processes = Math.max(1, Math.ceil(n / opts.perProcess));
      const shares: Array<{ token: string; count: number; localAddress: string }> = [];
      for (let i = 0; i < processes; i++) {
        const token = kind === "bare" ? "" : (await new Account(server.url, `Idle ${i + 1}`).signUp()).token;
        const count = Math.min(opts.perProcess, n - i * opts.perProcess);
        shares.push({ token, count, localAddress: `127.0.${1 + Math.floor(i / 250)}.${(i % 250) + 2}` });
      }
      for (const _ of shares) {
        const child = fork(path.join(HERE, "idle-client.ts"), [], {
          execArgv: ["--import", "tsx"],
          stdio: ["ignore", "ignore", "inherit", "ipc"],
        });
        clients.push(child);
      }
      // Two steps: a tenth first (what the first sockets cost once, JIT and buffers, stays out of the figure),
      // then the rest; the figure is the growth between the two steady states over the sockets added.
      const connectAll = async (part: (count: number) => number) => {
        const answers = await Promise.all(
          shares.map((share, i) =>
            ask(clients[i] as ChildProcess, {
              op: "connect",
              url: server.url,
              token: share.token,
              count: part(share.count),
              localAddress: share.localAddress,
              concurrency: 50,
            }),
          ),
        );
        let ok = 0;
        let failed = 0;
        let firstError: string | null = null;
        for (const m of answers)
          if (m.op === "connected") {
            ok += m.ok;
            failed += m.failed;
            firstError ??= m.firstError;
          }
        return { ok, failed, firstError };
      };
      const first = (count: number) => Math.max(1, Math.round(count / 10));
      const a = await connectAll(first);
      const rssA = await steadyRss(server, opts.steadyMs);
      const t0 = performance.now();
      const b = await connectAll((count) => count - first(count));
      const connectMs = Math.round(performance.now() - t0);
      const rssB = await steadyRss(server, opts.steadyMs);
      const sockets = (await server.usage()).sockets;
      await sleep(opts.holdMs);
      const reports = await Promise.all(clients.map((c) => ask(c, { op: "report" })));
      const drops = reports.reduce((sum, m) => sum + (m.op === "report" ? m.drops : 0), 0);
      return {
        rssIdle: idle,
        rssBefore: rssA,
        rssAfter: rssB,
        connected: a.ok + b.ok,
        failed: a.failed + b.failed,
        firstError: a.firstError ?? b.firstError,
        serverSockets: sockets,
        drops,
        connectMs,
        perSocket: b.ok > 0 ? (rssB - rssA) / b.ok : Number.NaN,
      };
    } finally {
      for (const c of clients) c.send({ op: "close" } satisfies ToIdleClient, () => {});
      await sleep(300);
      for (const c of clients) if (c.exitCode === null) c.kill("SIGKILL");
      const log = await server.close();
      if (log.errors.length > 0) opts.progress?.(`    server errors: ${log.errors.slice(0, 3).join("; ")}`);
    }
  } finally {
    await backend?.dispose();
  }
}

/** RSS after a full GC, once two readings a second apart differ by less than 1% (at most `maxMs`). */
async function steadyRss(server: ChildServer, maxMs: number): Promise<number> {
  let last = (await server.usage(true)).rss;
  for (let i = 0; i < maxMs / 1000; i++) {
    await sleep(1000);
    const now = (await server.usage(true)).rss;
    if (Math.abs(now - last) < last * 0.01) return now;
    last = now;
  }
  return last;
}

function ask(child: ChildProcess, msg: ToIdleClient): Promise<FromIdleClient> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: FromIdleClient) => {
      child.off("exit", onExit);
      resolve(m);
    };
    const onExit = (code: number | null) => {
      child.off("message", onMessage);
      reject(new Error(`an idle client exited with ${code}`));
    };
    child.once("message", onMessage);
    child.once("exit", onExit);
    child.send(msg);
  });
}
