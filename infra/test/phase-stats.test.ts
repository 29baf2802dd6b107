import { collectDefaultMetrics, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { nodePhase, parseNodeMetrics } from "../bench/phase-stats";

// prom-client's text for the lines the bench reads (as a node's /metrics serves them).
function metricsText(o: {
  cpu: number;
  minor: [number, number, number];
  major: [number, number, number];
}): string {
  const gc = (kind: string, [count, under10ms, sum]: [number, number, number]) =>
    [
      `nodejs_gc_duration_seconds_bucket{le="0.001",kind="${kind}"} 0`,
      `nodejs_gc_duration_seconds_bucket{le="0.01",kind="${kind}"} ${under10ms}`,
      `nodejs_gc_duration_seconds_bucket{le="0.1",kind="${kind}"} ${count}`,
      `nodejs_gc_duration_seconds_bucket{le="+Inf",kind="${kind}"} ${count}`,
      `nodejs_gc_duration_seconds_sum{kind="${kind}"} ${sum}`,
      `nodejs_gc_duration_seconds_count{kind="${kind}"} ${count}`,
    ].join("\n");
  return [
    "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.",
    "# TYPE process_cpu_seconds_total counter",
    `process_cpu_seconds_total ${o.cpu}`,
    "nodejs_eventloop_lag_p99_seconds 0.012",
    "nodejs_eventloop_lag_max_seconds 0.031",
    gc("minor", o.minor),
    gc("major", o.major),
    'backchannel_commands_total{type="SetNumber",outcome="ok"} 7',
  ].join("\n");
}

describe("phase stats from a node's /metrics", () => {
  it("reads CPU, GC pauses by kind and the loop delay, and takes the difference over a phase", () => {
    const before = parseNodeMetrics(metricsText({ cpu: 10, minor: [100, 95, 0.3], major: [4, 3, 0.05] }));
    const after = parseNodeMetrics(metricsText({ cpu: 11.5, minor: [130, 120, 0.5], major: [6, 4, 0.09] }));
    expect(before.cpuSeconds).toBe(10);
    expect(before.gc.get("minor")).toEqual({ count: 100, sum: 0.3, under10ms: 95 });
    const phase = nodePhase("A", before, after, 2);
    expect(phase).toEqual({
      name: "A",
      cpuPercent: 75,
      gcPauses: 32,
      // minor: 30 pauses, 25 of them under 10 ms; major: 2 pauses, 1 under 10 ms
      gcPausesOver10ms: 6,
      gcMajorOver10ms: 1,
      gcPauseMs: 240,
      loopDelayP99Ms: 12,
      loopDelayMaxMs: 31,
    });
  });

  it("reads what prom-client itself writes (the server's process metrics)", async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const sample = parseNodeMetrics(await registry.metrics());
    expect(sample.cpuSeconds).toBeGreaterThan(0);
    expect(Number.isFinite(sample.loopP99)).toBe(true);
  });
});
