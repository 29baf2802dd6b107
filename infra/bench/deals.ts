// The deal notice at scale: `sessions` live Step 3 sessions, each with three sockets of its own (claimant,
// respondent, mediator: 1,000 sessions are 3,000 sockets), while open-loop SetNumber commands run in the
// background across the other sessions. For `deals` sessions in turn, the claimant has a standing demand and the
// respondent sends the matching offer; the time from that emit to DealMade having reached all three participants
// is the figure (target p99 <= 10 ms on one node, <= 25 ms across two web nodes).
import {
  CHANGES_PER_SIDE,
  DEMAND_START,
  inBatches,
  MATCHING_OFFER,
  message,
  OFFER_START,
  STANDING_DEMAND,
  settle,
} from "./backchannel";
import { type BackgroundLoad, backgroundOf, startOpenLoop } from "./load";
import { Account, type Connection, pushTypeKey } from "./participant";
import { type ObservedNode, observePhase, type PhaseStats } from "./phase-stats";
import { openLiveSession, type Step3Session } from "./sessions";

export interface DealsAtScale {
  sessions: number;
  sockets: number;
  /** matching emit -> DealMade at the last of the three participants, ms */
  notified: number[];
  /** matching emit -> its ack, ms */
  ack: number[];
  background: BackgroundLoad;
  /** sockets the server or the network closed during the run */
  drops: number;
  /** the machine, the bench's loop and each observed node during the timed deals (null: not reached) */
  phase: PhaseStats | null;
  errors: string[];
}

const TIMEOUT_MS = 10_000;

export async function runDealsAtScale(
  url: string,
  opts: {
    sessions: number;
    deals: number;
    backgroundRate: number;
    /** per party: a cookie for its requests and sockets (two-node runs: which node it reaches) */
    cookies?: { claimant?: string; respondent?: string; mediator?: string };
    /** the servers under test whose /metrics are read around the timed deals */
    nodes?: readonly ObservedNode[];
    progress?: (line: string) => void;
  },
): Promise<DealsAtScale> {
  const out: DealsAtScale = {
    sessions: 0,
    sockets: 0,
    notified: [],
    ack: [],
    background: { rate: opts.backgroundRate, sent: 0, ok: 0, failed: 0, ackP99: Number.NaN },
    drops: 0,
    phase: null,
    errors: [],
  };
  const tables: Step3Session[] = [];
  try {
    const trio = {
      claimant: await new Account(url, "Claimant Attorney", opts.cookies?.claimant).signUp(),
      respondent: await new Account(url, "Respondent Adjuster", opts.cookies?.respondent).signUp(),
      mediator: await new Account(url, "Mediator", opts.cookies?.mediator).signUp(),
    };
    const started = performance.now();
    for (let done = 0; done < opts.sessions; done += 100) {
      const batch = Math.min(100, opts.sessions - done);
      tables.push(...(await inBatches(batch, () => openLiveSession(trio))));
      if (opts.sessions >= 500)
        opts.progress?.(
          `    ${tables.length}/${opts.sessions} sessions live (${((performance.now() - started) / 1000).toFixed(0)} s)`,
        );
    }
    out.sessions = tables.length;
    out.sockets = tables.length * 3;
    const deals = tables.slice(0, Math.min(opts.deals, tables.length));
    const background = tables.slice(deals.length);
    for (const t of deals) {
      const ack = await (t.sockets[0] as Connection).command(t.sessionId, {
        type: "SetNumber",
        amount: STANDING_DEMAND,
      });
      if (!ack.ok) throw new Error(`standing demand refused with ${ack.code}`);
    }
    await settle();

    const used = new Map<string, number>();
    const observing = await observePhase(opts.nodes);
    const loop =
      background.length > 0 && opts.backgroundRate > 0
        ? startOpenLoop(opts.backgroundRate, async (i) => {
            const t = background[i % background.length] as Step3Session;
            const side = Math.floor(i / background.length) % 2 === 0 ? 0 : 1; // claimant, then respondent
            const key = `${t.sessionId}:${side}`;
            const k = used.get(key) ?? 0;
            if (k >= CHANGES_PER_SIDE) throw new Error("background ran out of number changes");
            used.set(key, k + 1);
            const amount = side === 0 ? DEMAND_START - k * 100 : OFFER_START + k * 100;
            const ack = await (t.sockets[side] as Connection).command(t.sessionId, {
              type: "SetNumber",
              amount,
            });
            if (!ack.ok) throw new Error(`background SetNumber refused with ${ack.code}`);
          })
        : null;
    try {
      for (const [i, t] of deals.entries()) {
        try {
          const respondent = t.sockets[1] as Connection;
          const sentAt = performance.now();
          const ackP = respondent.command(t.sessionId, { type: "SetNumber", amount: MATCHING_OFFER });
          const reached = Promise.all(
            t.sockets.map((s) =>
              s.arrivals.waitFor(
                pushTypeKey(t.sessionId, "DealMade"),
                TIMEOUT_MS,
                `DealMade on ${s.account.name}'s socket`,
              ),
            ),
          );
          reached.catch(() => {}); // awaited below; a refused ack must not leave it unhandled
          const ack = await ackP;
          const ackAt = performance.now();
          if (!ack.ok) throw new Error(`matching SetNumber refused with ${ack.code}`);
          const arrivals = await reached;
          out.ack.push(ackAt - sentAt);
          out.notified.push(Math.max(...arrivals.map((a) => a.at)) - sentAt);
        } catch (err) {
          out.errors.push(`deal ${i + 1} of ${deals.length}: ${message(err)}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      if (loop) {
        const r = await loop.stop();
        out.background = backgroundOf(opts.backgroundRate, r);
        if (r.failed > 0) out.errors.push(`background: ${r.failed} failed (${r.failures.join("; ")})`);
      }
      out.phase = await observing.stop();
      out.errors.push(...out.phase.errors.map((e) => `metrics of ${e}`));
    }
  } catch (err) {
    out.errors.push(`deals at scale: ${message(err)}`);
  } finally {
    for (const t of tables)
      for (const s of t.sockets) {
        if (s.dropped) out.drops += 1;
        s.close();
      }
  }
  return out;
}
