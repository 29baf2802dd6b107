// Throughput: open-loop SetNumber commands (load.ts) at increasing rates across a pool of Step 3 sessions, each
// step for a fixed time, until the ack p99 passes the limit (50 ms) or a command fails at the same rate twice in a
// row. The highest rate that held is the figure; each step also reports the server process's CPU (% of one core; the
// server is a child process, so the load generator's own CPU is not in it).

import { CHANGES_PER_SIDE, DEMAND_START, inBatches, OFFER_START, settle } from "./backchannel";
import { type ChildServer, cpuPercent } from "./child";
import { startOpenLoop } from "./load";
import { Account, type Connection } from "./participant";
import { type Cast, openStep3Session, type Seats } from "./sessions";
import { summarize } from "./stats";

export interface ThroughputStep {
  rate: number;
  /** 1, or 2 for the same rate run again after it missed */
  attempt: number;
  sent: number;
  ok: number;
  failed: number;
  failures: string[];
  /** commands answered per second over the step */
  achieved: number;
  ackP50: number;
  ackP99: number;
  /** the server process's CPU over the step, % of one core (null when the server is not a child of this run) */
  cpuPercent: number | null;
  /** how late the generator emitted, p99 ms (a busy client shows here) */
  sendLagP99: number;
  held: boolean;
  samples: number[];
}

export interface ThroughputResults {
  steps: ThroughputStep[];
  /** the highest rate whose step held, or null when even the first did not */
  maxRate: number | null;
  errors: string[];
}

export async function runThroughput(
  url: string,
  server: ChildServer | null,
  opts: { rates: number[]; stepMs: number; p99LimitMs: number; sendersPerSide: number },
): Promise<ThroughputResults> {
  const out: ThroughputResults = { steps: [], maxRate: null, errors: [] };
  const connections: Connection[] = [];
  try {
    const cast: Cast = {
      claimant: await new Account(url, "Claimant Attorney").signUp(),
      claimantClient: await new Account(url, "Claimant Client").signUp(),
      respondent: await new Account(url, "Respondent Adjuster").signUp(),
      mediator: await new Account(url, "Mediator").signUp(),
    };
    const seats: Seats = {
      claimant: await cast.claimant.connect(),
      claimantClient: await cast.claimantClient.connect(),
      respondent: await cast.respondent.connect(),
      mediator: await cast.mediator.connect(),
    };
    connections.push(...Object.values(seats));
    // Senders of their own (they open no session, so they do not also receive every push).
    const senders = { claimant: [seats.claimant], respondent: [seats.respondent] };
    for (let i = 1; i < opts.sendersPerSide; i++) {
      senders.claimant.push(await cast.claimant.connect());
      senders.respondent.push(await cast.respondent.connect());
    }
    connections.push(...senders.claimant.slice(1), ...senders.respondent.slice(1));

    // Each rate may run twice (runRateSteps).
    const planned = 2 * opts.rates.reduce((a, r) => a + (r * opts.stepMs) / 1000, 0);
    const poolSize = Math.ceil((planned * 1.1) / (2 * CHANGES_PER_SIDE)) + 1;
    const pool = await inBatches(poolSize, () => openStep3Session(cast, seats));
    await settle();
    const used = new Map<string, number>(); // changes made per session and side
    let cursor = 0;

    const steps = await runRateSteps(server, opts, async (i) => {
      // The next session with allowance left for this side, round robin.
      const side = i % 2 === 0 ? "claimant" : "respondent";
      let table: (typeof pool)[number] | undefined;
      for (let tries = 0; tries < pool.length; tries++) {
        const t = pool[cursor++ % pool.length];
        if (t && (used.get(`${t.sessionId}:${side}`) ?? 0) < CHANGES_PER_SIDE) {
          table = t;
          break;
        }
      }
      if (!table) throw new Error("the session pool ran out of number changes");
      const k = used.get(`${table.sessionId}:${side}`) ?? 0;
      used.set(`${table.sessionId}:${side}`, k + 1);
      const list = senders[side];
      const sender = list[i % list.length] as Connection;
      const amount = side === "claimant" ? DEMAND_START - k * 100 : OFFER_START + k * 100;
      const ack = await sender.command(table.sessionId, { type: "SetNumber", amount });
      if (!ack.ok) throw new Error(`SetNumber refused with ${ack.code}`);
    });
    Object.assign(out, steps);
  } catch (err) {
    out.errors.push(`throughput: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    for (const c of connections) c.close();
  }
  return out;
}

/**
 * The open-loop steps (load.ts): each rate for `stepMs`, `send(i)` the i-th command of the run (it throws on a
 * refusal). A step whose ack p99 passes the limit, or whose commands fail, is run once more at the same rate: a rate
 * holds when one of its two steps held, and the run stops at the first rate that missed twice. One stall of a shared
 * machine (a few hundred ms of steal or a slow fsync, which the floor meets too) lifts a 5-second step's p99 past
 * the limit at any rate; a server past its capacity misses again. Both steps are reported. Shared by Backchannel's
 * throughput and the floor's (floor.ts), so both are measured the same way.
 */
export async function runRateSteps(
  server: ChildServer | null,
  opts: { rates: number[]; stepMs: number; p99LimitMs: number },
  send: (i: number) => Promise<void>,
): Promise<Pick<ThroughputResults, "steps" | "maxRate">> {
  const out: Pick<ThroughputResults, "steps" | "maxRate"> = { steps: [], maxRate: null };
  let sentBefore = 0;
  for (const rate of opts.rates) {
    let held = false;
    for (let attempt = 1; attempt <= 2 && !held; attempt++) {
      const before = server ? await server.usage() : null;
      const offset = sentBefore;
      const loop = startOpenLoop(rate, (i) => send(offset + i));
      await new Promise((r) => setTimeout(r, opts.stepMs));
      const r = await loop.stop();
      sentBefore += r.sent;
      const after = server ? await server.usage() : null;
      const s = summarize(r.latencies);
      const lag = summarize(r.lagMs);
      held = r.failed === 0 && s.p99 <= opts.p99LimitMs;
      out.steps.push({
        rate,
        attempt,
        sent: r.sent,
        ok: r.latencies.length,
        failed: r.failed,
        failures: r.failures,
        achieved: Math.round((r.latencies.length / r.elapsedMs) * 1000),
        ackP50: s.p50,
        ackP99: r.failed > 0 ? Number.POSITIVE_INFINITY : s.p99,
        cpuPercent: before && after ? cpuPercent(before, after) : null,
        sendLagP99: lag.p99,
        held,
        samples: r.latencies,
      });
      await settle();
    }
    if (!held) break;
    out.maxRate = rate;
  }
  return out;
}
