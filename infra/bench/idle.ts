// Idle sockets: the server's memory per open, authenticated, idle socket, against a bare Socket.IO server's
// (same client, same count) measured in the same run. For each scale the server is a fresh child process (with
// `ulimit -n` raised: see child.ts) and the sockets come from several forked client processes (idle-client.ts),
// each from a loopback address of its own. RSS is read after a full GC before the first socket and again once all
// are open and have settled (see measure()). The Backchannel node is the embedded one
// (PGlite, in-process scheduler); its RSS before any socket is reported too, and V8's live heap per socket beside
// the RSS. A scale above the hard open-files limit is measured at the largest count that fits.
import { type ChildProcess, fork } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { message } from "./backchannel";
import { prepareBackend } from "./backend";
import { type ChildServer, hardNofileLimit, startChild } from "./child";
import type { FromIdleClient, ToIdleClient } from "./idle-client";
import { sleep } from "./load";
import { Account } from "./participant";
import type { Usage } from "./server-child";

const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface IdleScale {
  /** the scale asked for */
  sockets: number;
  /** the sockets opened: `sockets`, or fewer when the open-files limit allows no more (then `reduced` says why) */
  measured: number;
  reduced: string | null;
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
  /** the same for V8's live heap (heapUsed after a full GC) and for the heap V8 holds (heapTotal), bytes */
  heapPerSocket: number;
  heapTotalPerSocket: number;
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
  const hard = hardNofileLimit();
  // A scale above the hard open-files limit is measured at the largest count that fits (rounded down to a
  // thousand), unless an earlier scale already measured that many: then it is reported as blocked.
  const fits = Math.floor((hard - FD_MARGIN) / 1000) * 1000;
  let largest = 0;
  for (const n of opts.scales) {
    const scale: IdleScale = {
      sockets: n,
      measured: n,
      reduced: null,
      skipped: null,
      backchannel: null,
      bare: null,
    };
    scales.push(scale);
    if (n + FD_MARGIN > hard) {
      const why = `${count(n)} needs ulimit -n >= ${count(n + FD_MARGIN)}; hard limit here ${count(hard)}`;
      if (fits <= largest || fits <= 0) {
        scale.skipped = `${why} (raise it, e.g. as root: ulimit -Hn ${(n + FD_MARGIN) * 2})${largest > 0 ? `; the largest count that fits, ${count(largest)}, is measured above` : ""}`;
        opts.progress?.(`    ${n} sockets: skipped (${scale.skipped})`);
        continue;
      }
      scale.measured = fits;
      scale.reduced = why;
      opts.progress?.(`    ${n} sockets: measured at ${fits} (${why})`);
    }
    const at = scale.measured;
    largest = Math.max(largest, at);
    for (const kind of ["backchannel", "bare"] as const) {
      try {
        scale[kind] = await measure(kind, at, at + FD_MARGIN, opts);
        const m = scale[kind];
        opts.progress?.(
          `    ${at} sockets, ${kind}: ${m ? (m.perSocket / 1024).toFixed(1) : "?"} KiB per socket (${m?.connected} open; ` +
            `live heap ${m ? (m.heapPerSocket / 1024).toFixed(1) : "?"} KiB, heap held ${m ? (m.heapTotalPerSocket / 1024).toFixed(1) : "?"} KiB)`,
        );
      } catch (err) {
        errors.push(`idle sockets, ${at}, ${kind}: ${message(err)}`);
      }
    }
  }
  return { scales, errors };
}

const count = (x: number) => x.toLocaleString("en-US");

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
      const idle = (await steadyRss(server, opts.steadyMs)).rss;
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
      const atA = await steadyRss(server, opts.steadyMs);
      const t0 = performance.now();
      const b = await connectAll((count) => count - first(count));
      const connectMs = Math.round(performance.now() - t0);
      const atB = await steadyRss(server, opts.steadyMs);
      const sockets = (await server.usage()).sockets;
      await sleep(opts.holdMs);
      const reports = await Promise.all(clients.map((c) => ask(c, { op: "report" })));
      const drops = reports.reduce((sum, m) => sum + (m.op === "report" ? m.drops : 0), 0);
      return {
        rssIdle: idle,
        rssBefore: atA.rss,
        rssAfter: atB.rss,
        connected: a.ok + b.ok,
        failed: a.failed + b.failed,
        firstError: a.firstError ?? b.firstError,
        serverSockets: sockets,
        drops,
        connectMs,
        perSocket: b.ok > 0 ? (atB.rss - atA.rss) / b.ok : Number.NaN,
        heapPerSocket: b.ok > 0 ? (atB.heapUsed - atA.heapUsed) / b.ok : Number.NaN,
        heapTotalPerSocket: b.ok > 0 ? (atB.heapTotal - atA.heapTotal) / b.ok : Number.NaN,
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

/** Memory after a full GC, once two RSS readings a second apart differ by less than 1% (at most `maxMs`). */
async function steadyRss(server: ChildServer, maxMs: number): Promise<Usage> {
  let last = await server.usage(true);
  for (let i = 0; i < maxMs / 1000; i++) {
    await sleep(1000);
    const now = await server.usage(true);
    if (Math.abs(now.rss - last.rss) < last.rss * 0.01) return now;
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
