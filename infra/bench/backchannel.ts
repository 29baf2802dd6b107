// Backchannel itself, end to end: a real server (HTTP, Socket.IO gateway, session service, database,
// scheduler; a child process, or the two-node topology behind its proxy) at `url`, driven over real sockets.
// Measures what a party feels: the ack of a number change, the moment every participant's screen hears of it,
// and the moment everyone learns of a deal.
import type { RoundTrips } from "./baseline";
import { Account, type Connection, nthPushKey, pushTypeKey } from "./participant";
import { type Cast, openStep3Session, type Seats, type Step3Session } from "./sessions";

export interface BackchannelResults {
  /** SetNumber in Step 3 with the four participants' sockets in the session */
  numberChange: RoundTrips;
  /** the same with extra mediator sockets, `crowd` sockets in all */
  numberChangeCrowd: RoundTrips;
  deal: {
    /** emit of the matching SetNumber -> its ack, ms */
    ack: number[];
    /** emit of the matching SetNumber -> DealMade reached the last participant, ms */
    notified: number[];
  };
  /** failures of the run: a refused command, a push that never came, a deal that never arrived */
  errors: string[];
}

export interface BackchannelOptions {
  iterations: number;
  warmup: number;
  deals: number;
  crowd: number;
  /** per member of the cast: a cookie for its requests and sockets (two-node runs: which node it reaches) */
  cookies?: Partial<Record<keyof Cast, string>>;
}

export const TIMEOUT_MS = 5_000;
// Below the 100-per-24-hours allowance of BENCH_RULES, with room for the few changes made during setup.
export const CHANGES_PER_SIDE = 90;
// Confidential numbers never meet: demands walk down from $9M, offers walk up from $1M, in $1 steps.
export const DEMAND_START = 900_000_000;
export const OFFER_START = 100_000_000;
export const STANDING_DEMAND = 50_000_000;
export const MATCHING_OFFER = 52_000_000; // overlaps the standing demand, so the deal takes the random-draw path
export const SETUP_CONCURRENCY = 3;

export async function runBackchannel(url: string, opts: BackchannelOptions): Promise<BackchannelResults> {
  const results: BackchannelResults = {
    numberChange: { ack: [], fanout: [] },
    numberChangeCrowd: { ack: [], fanout: [] },
    deal: { ack: [], notified: [] },
    errors: [],
  };
  const connections: Connection[] = [];
  try {
    const cast: Cast = {
      claimant: await new Account(url, "Claimant Attorney", opts.cookies?.claimant).signUp(),
      claimantClient: await new Account(url, "Claimant Client", opts.cookies?.claimantClient).signUp(),
      respondent: await new Account(url, "Respondent Adjuster", opts.cookies?.respondent).signUp(),
      mediator: await new Account(url, "Mediator", opts.cookies?.mediator).signUp(),
    };
    const seats: Seats = {
      claimant: await cast.claimant.connect(),
      claimantClient: await cast.claimantClient.connect(),
      respondent: await cast.respondent.connect(),
      mediator: await cast.mediator.connect(),
    };
    connections.push(...Object.values(seats));
    const observers: Connection[] = [];
    for (let i = 0; i < Math.max(0, opts.crowd - 4); i++) observers.push(await cast.mediator.connect());
    connections.push(...observers);

    const changes = opts.warmup + opts.iterations;
    const sessionsNeeded = Math.ceil(changes / (2 * CHANGES_PER_SIDE));
    await phase(results, "number changes, 4 sockets", async () => {
      const tables = await inBatches(sessionsNeeded, () => openStep3Session(cast, seats));
      await settle();
      results.numberChange = await measureNumberChanges(tables, seats, opts);
    });
    if (opts.crowd > 4)
      await phase(results, `number changes, ${opts.crowd} sockets`, async () => {
        const tables = await inBatches(sessionsNeeded, () => openStep3Session(cast, seats, observers));
        await settle();
        results.numberChangeCrowd = await measureNumberChanges(tables, seats, opts);
      });
    if (opts.deals > 0)
      await phase(results, "deals", async () => {
        const tables = await inBatches(opts.deals, async () => {
          const t = await openStep3Session(cast, seats);
          const standing = await seats.claimant.command(t.sessionId, {
            type: "SetNumber",
            amount: STANDING_DEMAND,
          });
          if (!standing.ok) throw new Error(`standing demand refused with ${standing.code}`);
          return t;
        });
        await settle();
        for (const [i, t] of tables.entries()) {
          try {
            const sentAt = performance.now();
            const ack = await seats.respondent.command(t.sessionId, {
              type: "SetNumber",
              amount: MATCHING_OFFER,
            });
            const ackAt = performance.now();
            if (!ack.ok) throw new Error(`matching SetNumber refused with ${ack.code}`);
            const reached = await Promise.all(
              t.sockets.map((s) =>
                s.arrivals.waitFor(
                  pushTypeKey(t.sessionId, "DealMade"),
                  TIMEOUT_MS,
                  `DealMade on ${s.account.name}'s socket`,
                ),
              ),
            );
            results.deal.ack.push(ackAt - sentAt);
            results.deal.notified.push(Math.max(...reached.map((r) => r.at)) - sentAt);
          } catch (err) {
            results.errors.push(`deal ${i + 1} of ${tables.length}: ${message(err)}`);
          }
        }
      });
  } catch (err) {
    results.errors.push(`setup: ${message(err)}`);
  } finally {
    for (const c of connections) c.close();
    // The service schedules deadlines after the commit without awaiting them (server.close() does not wait
    // for that either); let the last command's scheduling finish, as it would on any server not stopped at once.
    await settle();
  }
  return results;
}

/**
 * Alternating sides, each SetNumber is timed from emit to its ack and to the moment its NumberSet push
 * reached the last socket in the session (the sender's own included). Sessions rotate before a side
 * would exhaust its change allowance.
 */
async function measureNumberChanges(
  tables: Step3Session[],
  seats: Seats,
  opts: BackchannelOptions,
): Promise<RoundTrips> {
  const out: RoundTrips = { ack: [], fanout: [] };
  // Positions differ per role (each role has its own stream): match a command to its push by count instead.
  const numberSets = new Map<string, number>();
  for (let i = 0; i < opts.warmup + opts.iterations; i++) {
    const table = tables[Math.floor(i / (2 * CHANGES_PER_SIDE))];
    if (!table) throw new Error("ran out of sessions");
    const k = Math.floor((i % (2 * CHANGES_PER_SIDE)) / 2);
    const claimantTurn = i % 2 === 0;
    const sender = claimantTurn ? seats.claimant : seats.respondent;
    const amount = claimantTurn ? DEMAND_START - k * 100 : OFFER_START + k * 100;

    // Counted before the emit: the push may reach a socket (the sender's too) before the ack does.
    const first = table.sockets[0];
    if (!first) throw new Error("a session without sockets");
    const n = (numberSets.get(table.sessionId) ?? first.countOf(table.sessionId, "NumberSet")) + 1;
    numberSets.set(table.sessionId, n);
    const sentAt = performance.now();
    const ack = await sender.command(table.sessionId, { type: "SetNumber", amount });
    const ackAt = performance.now();
    if (!ack.ok) throw new Error(`SetNumber ${i + 1} refused with ${ack.code}`);
    const key = nthPushKey(table.sessionId, "NumberSet", n);
    const reached = await Promise.all(
      table.sockets.map((s) =>
        s.arrivals.waitFor(key, TIMEOUT_MS, `NumberSet on ${s.account.name}'s socket`),
      ),
    );
    const wrong = reached.find((r) => r.payload.event.type !== "NumberSet");
    if (wrong)
      throw new Error(`expected NumberSet at version ${ack.version}, got ${wrong.payload.event.type}`);
    if (i < opts.warmup) continue;
    out.ack.push(ackAt - sentAt);
    out.fanout.push(Math.max(...reached.map((r) => r.at)) - sentAt);
  }
  return out;
}

async function phase(results: BackchannelResults, name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    results.errors.push(`${name}: ${message(err)}`);
  }
}

/** Runs `count` setups, a few at a time (the server and the clients share two cores). */
export async function inBatches<T>(count: number, make: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += SETUP_CONCURRENCY) {
    const batch = Math.min(SETUP_CONCURRENCY, count - i);
    out.push(...(await Promise.all(Array.from({ length: batch }, make))));
  }
  return out;
}

/** Lets the presence broadcasts that follow session:open die down before anything is timed. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 250));
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
