// Open-loop arrivals: commands are sent on a fixed schedule (rate per second), whether or not earlier ones have
// been answered, so a slow server meets a growing queue instead of a politely waiting client (no coordinated
// omission). Each send is timed from its actual emit; how late the emit was against its schedule is kept too,
// so a load generator that cannot keep up is seen rather than mistaken for a slow server.

import { summarize } from "./stats";

export interface OpenLoopResult {
  /** commands scheduled and sent */
  sent: number;
  /** emit -> answer of each command that was answered ok, ms */
  latencies: number[];
  /** commands refused, timed out or not sent (no allowance left) */
  failed: number;
  /** first few failure messages */
  failures: string[];
  /** actual emit - scheduled emit, ms */
  lagMs: number[];
  /** scheduling time, ms (first schedule to the last, not counting the drain) */
  elapsedMs: number;
}

export interface OpenLoop {
  /** stops scheduling, waits for every command in flight, returns what happened */
  stop(): Promise<OpenLoopResult>;
}

/** `send(i)` emits the i-th command and resolves when it is answered; it throws on a refusal. */
export function startOpenLoop(ratePerSecond: number, send: (i: number) => Promise<void>): OpenLoop {
  const result: OpenLoopResult = { sent: 0, latencies: [], failed: 0, failures: [], lagMs: [], elapsedMs: 0 };
  const inFlight = new Set<Promise<void>>();
  const interval = 1000 / ratePerSecond;
  const t0 = performance.now();
  let i = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const fire = (scheduledAt: number) => {
    const index = i++;
    const sentAt = performance.now();
    result.lagMs.push(sentAt - scheduledAt);
    result.sent += 1;
    const p = send(index).then(
      () => {
        result.latencies.push(performance.now() - sentAt);
      },
      (err: unknown) => {
        result.failed += 1;
        if (result.failures.length < 5)
          result.failures.push(err instanceof Error ? err.message : String(err));
      },
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const tick = () => {
    if (stopped) return;
    const now = performance.now();
    while (t0 + i * interval <= now) fire(t0 + i * interval);
    timer = setTimeout(tick, Math.max(0, t0 + i * interval - performance.now()));
  };
  tick();

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      result.elapsedMs = performance.now() - t0;
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      return result;
    },
  };
}

/** An open loop run in the background of a measurement, summed up: what was sent, answered and refused. */
export interface BackgroundLoad {
  rate: number;
  sent: number;
  ok: number;
  failed: number;
  ackP99: number;
}

export function backgroundOf(rate: number, r: OpenLoopResult): BackgroundLoad {
  return { rate, sent: r.sent, ok: r.latencies.length, failed: r.failed, ackP99: summarize(r.latencies).p99 };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
