// What else happened during a timed phase, to read a latency figure by: how busy the machine was (and how much of it
// the hypervisor took: steal), how late the bench's own event loop ran (the bench receives every push it times, so
// its loop delay is in every figure), and for each server under test that exposes /metrics (prom-client's process
// metrics): its CPU, its garbage-collection pauses by kind, and its event loop's delay. A p99 target of 10 ms cannot
// be met where the node paused 20 ms for GC, or where the machine had no CPU left; these say which it was.

import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";

/** A server under test whose /metrics the bench may read (no token). */
export interface ObservedNode {
  name: string;
  metricsUrl: string;
}

export interface NodePhase {
  name: string;
  /** its process's CPU over the phase, % of one core */
  cpuPercent: number;
  /** GC pauses during the phase */
  gcPauses: number;
  /** of them 10 ms or longer (prom-client's buckets: 1, 10, 100 ms, ...) */
  gcPausesOver10ms: number;
  /** of those, major (mark-compact) */
  gcMajorOver10ms: number;
  /** the pauses' sum, ms */
  gcPauseMs: number;
  /** its event loop's delay over the phase (prom-client samples it every 10 ms), ms */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

export interface PhaseStats {
  seconds: number;
  /** the whole machine: busy share of all its cores, and the share the hypervisor took (steal), % */
  machineBusyPercent: number;
  machineStealPercent: number;
  cpus: number;
  /** the bench process's own event loop delay, ms */
  clientLoopDelayP99Ms: number;
  clientLoopDelayMaxMs: number;
  nodes: NodePhase[];
  /** a node whose /metrics could not be read: why (its figures are left out) */
  errors: string[];
}

interface CpuTimes {
  total: number;
  idle: number;
  steal: number;
  cpus: number;
}

/** /proc/stat's aggregate line (clock ticks); null where there is none (not Linux). */
function cpuTimes(): CpuTimes | null {
  try {
    const text = readFileSync("/proc/stat", "utf8");
    const [first, ...rest] = text.split("\n");
    const f = (first ?? "").trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user already)
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return {
      total,
      idle: (f[3] ?? 0) + (f[4] ?? 0),
      steal: f[7] ?? 0,
      cpus: rest.filter((l) => /^cpu\d+ /.test(l)).length,
    };
  } catch {
    return null;
  }
}

interface NodeSample {
  cpuSeconds: number;
  gc: Map<string, { count: number; sum: number; under10ms: number }>;
  loopP99: number;
  loopMax: number;
}

/** The Prometheus text format's `name{labels} value` lines, as [name, labels, value]. */
function* samples(text: string): Generator<[string, Record<string, string>, number]> {
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g))
      labels[pair[1] as string] = pair[2] as string;
    yield [m[1] as string, labels, Number(m[3])];
  }
}

export function parseNodeMetrics(text: string): NodeSample {
  const out: NodeSample = { cpuSeconds: Number.NaN, gc: new Map(), loopP99: Number.NaN, loopMax: Number.NaN };
  const gcOf = (kind: string) => {
    let g = out.gc.get(kind);
    if (!g) {
      g = { count: 0, sum: 0, under10ms: 0 };
      out.gc.set(kind, g);
    }
    return g;
  };
  for (const [name, labels, value] of samples(text)) {
    if (name === "process_cpu_seconds_total") out.cpuSeconds = value;
    else if (name === "nodejs_eventloop_lag_p99_seconds") out.loopP99 = value * 1000;
    else if (name === "nodejs_eventloop_lag_max_seconds") out.loopMax = value * 1000;
    else if (name === "nodejs_gc_duration_seconds_count") gcOf(labels.kind ?? "?").count = value;
    else if (name === "nodejs_gc_duration_seconds_sum") gcOf(labels.kind ?? "?").sum = value;
    else if (name === "nodejs_gc_duration_seconds_bucket" && labels.le === "0.01")
      gcOf(labels.kind ?? "?").under10ms = value;
  }
  return out;
}

async function sampleNode(node: ObservedNode): Promise<NodeSample> {
  const res = await fetch(`${node.metricsUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`${node.name}: /metrics answered ${res.status}`);
  return parseNodeMetrics(await res.text());
}

/** The difference of two samples of one node, `seconds` apart. The loop figures are the later sample's own. */
export function nodePhase(name: string, a: NodeSample, b: NodeSample, seconds: number): NodePhase {
  let gcPauses = 0;
  let over10 = 0;
  let sum = 0;
  let majorOver10 = 0;
  for (const [kind, after] of b.gc) {
    const before = a.gc.get(kind) ?? { count: 0, sum: 0, under10ms: 0 };
    const n = after.count - before.count;
    const long = n - (after.under10ms - before.under10ms);
    gcPauses += n;
    over10 += long;
    sum += after.sum - before.sum;
    if (kind === "major") majorOver10 += long;
  }
  return {
    name,
    cpuPercent: Math.round(((b.cpuSeconds - a.cpuSeconds) / seconds) * 1000) / 10,
    gcPauses,
    gcPausesOver10ms: over10,
    gcMajorOver10ms: majorOver10,
    gcPauseMs: Math.round(sum * 10_000) / 10,
    loopDelayP99Ms: b.loopP99,
    loopDelayMaxMs: b.loopMax,
  };
}

/**
 * Starts observing: the machine's CPU counters, a loop-delay monitor in this process, each node's metrics (reading
 * them also starts their loop-delay window: prom-client resets it on every read). stop() returns the phase's figures.
 */
export async function observePhase(
  nodes: readonly ObservedNode[] = [],
): Promise<{ stop(): Promise<PhaseStats> }> {
  const errors: string[] = [];
  const before = await Promise.all(
    nodes.map((n) =>
      sampleNode(n).catch((err: unknown) => {
        errors.push(`${n.name}: ${err instanceof Error ? err.message : String(err)}`);
        return null;
      }),
    ),
  );
  const loop = monitorEventLoopDelay({ resolution: 2 });
  loop.enable();
  const cpuBefore = cpuTimes();
  const startedAt = performance.now();
  return {
    async stop() {
      const seconds = (performance.now() - startedAt) / 1000;
      const cpuAfter = cpuTimes();
      loop.disable();
      const after = await Promise.all(
        nodes.map((n, i) =>
          before[i]
            ? sampleNode(n).catch((err: unknown) => {
                errors.push(`${n.name}: ${err instanceof Error ? err.message : String(err)}`);
                return null;
              })
            : null,
        ),
      );
      const ticks = cpuBefore && cpuAfter ? cpuAfter.total - cpuBefore.total : 0;
      const share = (x: number) => (ticks > 0 ? Math.round((x / ticks) * 1000) / 10 : Number.NaN);
      return {
        seconds: Math.round(seconds * 10) / 10,
        machineBusyPercent:
          cpuBefore && cpuAfter ? share(ticks - (cpuAfter.idle - cpuBefore.idle)) : Number.NaN,
        machineStealPercent: cpuBefore && cpuAfter ? share(cpuAfter.steal - cpuBefore.steal) : Number.NaN,
        cpus: cpuAfter?.cpus ?? 0,
        clientLoopDelayP99Ms: loop.percentile(99) / 1e6,
        clientLoopDelayMaxMs: loop.max / 1e6,
        nodes: nodes.flatMap((n, i) => {
          const a = before[i];
          const b = after[i];
          return a && b ? [nodePhase(n.name, a, b, seconds)] : [];
        }),
        errors,
      };
    },
  };
}

/** One line for a table's note: the machine and the bench's loop. */
export function machineNote(s: PhaseStats): string {
  return (
    `machine ${s.machineBusyPercent}% busy of ${s.cpus} cpu (steal ${s.machineStealPercent}%), ` +
    `bench loop delay p99 ${s.clientLoopDelayP99Ms.toFixed(1)} / max ${s.clientLoopDelayMaxMs.toFixed(1)} ms, over ${s.seconds} s`
  );
}

/** One line for a node: its CPU, its GC pauses, its loop. */
export function nodeNote(n: NodePhase): string {
  return (
    `CPU ${n.cpuPercent}%, ${n.gcPauses} GC pauses (${n.gcPauseMs} ms in all), ${n.gcPausesOver10ms} of them >= 10 ms ` +
    `(${n.gcMajorOver10ms} major); loop delay p99 ${n.loopDelayP99Ms.toFixed(1)} / max ${n.loopDelayMaxMs.toFixed(1)} ms`
  );
}
