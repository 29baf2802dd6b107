// Two web nodes behind a proxy (infra/topology: PostgreSQL, Redis, two ROLE=web nodes, a ROLE=worker, nginx or
// the Node proxy). Every request and socket goes through the proxy; a `bc_node` cookie chosen per account sends
// the claimant to one node and everyone else to the other, so each number change is committed on node A and its
// pushes cross Redis to node B. Measured: SetNumber ack and push to all four sockets across nodes, the deal notice
// across nodes (few sessions), and the deal notice at scale with background load (deals.ts), split the same way.

import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { STICKY_COOKIE, UPSTREAM_HEADER } from "../topology/proxy";
import { startTopology, type Topology } from "../topology/start";
import { type BackchannelResults, message, runBackchannel } from "./backchannel";
import { BENCH_RATE_LIMITS } from "./backend";
import { benchNodeFlags } from "./child";
import { type DealsAtScale, runDealsAtScale } from "./deals";

export interface TwoNodes {
  proxy: string;
  crossNode: BackchannelResults | null;
  dealsAtScale: DealsAtScale | null;
  errors: string[];
}

/** A sticky cookie the proxy sends to `port`. */
async function cookieFor(topology: Topology, port: number): Promise<string> {
  for (let i = 0; i < 64; i++) {
    const cookie = `${STICKY_COOKIE}=${randomBytes(8).toString("hex")}`;
    const res = await fetch(`${topology.url}/healthz`, { headers: { cookie } });
    await res.arrayBuffer();
    if (res.headers.get(UPSTREAM_HEADER) === `127.0.0.1:${port}`) return cookie;
  }
  throw new Error(`no cookie value leads to port ${port}`);
}

export async function runTwoNodes(opts: {
  databaseUrl: string;
  redisUrl: string;
  iterations: number;
  warmup: number;
  deals: number;
  sessions: number;
  backgroundRate: number;
  progress?: (line: string) => void;
}): Promise<TwoNodes> {
  const out: TwoNodes = { proxy: "", crossNode: null, dealsAtScale: null, errors: [] };
  let topology: Topology | undefined;
  try {
    topology = await startTopology({
      databaseUrl: opts.databaseUrl,
      redisUrl: opts.redisUrl,
      env: BENCH_RATE_LIMITS,
      logLevel: "warn",
      nodeFlags: benchNodeFlags(),
      // The nodes' logs are kept when the scenario fails (see below): they are what explains a failure.
      keepTemp: true,
    });
    out.proxy = topology.proxy.kind;
    const [a, b] = topology.nodes;
    if (!a || !b) throw new Error("the topology has fewer than two web nodes");
    const onA = await cookieFor(topology, a.port);
    const onB = await cookieFor(topology, b.port);
    opts.progress?.(
      `    topology up: proxy ${topology.proxy.kind} at ${topology.url}, web nodes :${a.port} :${b.port}`,
    );
    out.crossNode = await runBackchannel(topology.url, {
      iterations: opts.iterations,
      warmup: opts.warmup,
      deals: opts.deals,
      crowd: 4,
      cookies: { claimant: onA, claimantClient: onB, respondent: onB, mediator: onB },
    });
    out.errors.push(...out.crossNode.errors.map((e) => `two nodes: ${e}`));
    // At scale the respondent sends the matching offer: it is on node A here, the claimant and mediator on B.
    out.dealsAtScale = await runDealsAtScale(topology.url, {
      sessions: opts.sessions,
      deals: opts.deals,
      backgroundRate: opts.backgroundRate,
      cookies: { claimant: onB, respondent: onA, mediator: onB },
      nodes: [...topology.nodes, topology.worker].map((n) => ({
        name: `${n.name} (${n.role})`,
        metricsUrl: `http://127.0.0.1:${n.metricsPort}`,
      })),
      progress: opts.progress,
    });
    out.errors.push(...out.dealsAtScale.errors.map((e) => `two nodes: ${e}`));
  } catch (err) {
    out.errors.push(`two nodes: ${message(err)}`);
  } finally {
    await topology?.stop().catch((err: unknown) => out.errors.push(`two nodes, stop: ${message(err)}`));
    if (topology) out.errors.push(...sweptDeadlines(topology));
    if (topology && out.errors.length > 0)
      out.errors.push(`two nodes: the nodes' logs are in ${topology.tempDir}`);
    else if (topology) rmSync(topology.tempDir, { recursive: true, force: true });
  }
  return out;
}

/**
 * A deadline the worker's sweep re-armed was overdue by more than 5 s: its trigger was lost (it then fires up to the
 * sweep's period late), or the worker was that far behind. Either is reported as a failure, with the nodes' logs kept.
 * The sweep logs it at warn, the level the nodes run at here.
 */
function sweptDeadlines(topology: Topology): string[] {
  const errors: string[] = [];
  for (const node of [...topology.nodes, topology.worker]) {
    const file = path.join(topology.tempDir, `${node.name}.log`);
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (!line.includes("re-armed overdue deadlines")) continue;
      const count = /"deadlines":(\d+)/.exec(line)?.[1] ?? "?";
      errors.push(
        `two nodes: ${node.name}'s sweep re-armed ${count} deadline(s) overdue by over 5 s (a lost trigger?)`,
      );
    }
  }
  return errors;
}
