// Tests for src/metrics.ts. They live here because this folder is the one the auth/config owner may write to.
import { describe, expect, it } from "vitest";
import { createMetrics, safeCommandLabels } from "../../src/metrics";

describe("createMetrics", () => {
  it("exposes the product metrics and the default process metrics", async () => {
    const metrics = createMetrics();
    metrics.sockets.inc(3);
    metrics.observeCommand("SetNumber", "ok", 0.004);
    metrics.observeCommand("SetNumber", "WRONG_STEP", 0.002);
    metrics.deadlineLateness.observe(0.08);
    metrics.dealsTotal.inc();
    const text = await metrics.registry.metrics();
    expect(text).toContain("backchannel_sockets 3");
    expect(text).toContain('backchannel_commands_total{type="SetNumber",outcome="ok"} 1');
    expect(text).toContain('backchannel_commands_total{type="SetNumber",outcome="WRONG_STEP"} 1');
    expect(text).toContain('backchannel_command_duration_seconds_count{type="SetNumber"} 2');
    expect(text).toContain("backchannel_deadline_lateness_seconds_count 1");
    expect(text).toContain("backchannel_deals_total 1");
    expect(text).toContain("process_cpu_user_seconds_total");
    expect(text).toContain("nodejs_eventloop_lag_seconds");
  });

  it("gives each server its own registry", async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.dealsTotal.inc(2);
    expect(await a.registry.metrics()).toContain("backchannel_deals_total 2");
    expect(await b.registry.metrics()).toContain("backchannel_deals_total 0");
    // Many instances in one process must not fail on duplicate registration.
    for (let i = 0; i < 20; i++) createMetrics();
  });
});

describe("command labels", () => {
  it("keeps command types and error codes", () => {
    expect(safeCommandLabels("SetNumber", "ok")).toEqual({ type: "SetNumber", outcome: "ok" });
    expect(safeCommandLabels("bid.set", "RATE_LIMITED")).toEqual({
      type: "bid.set",
      outcome: "RATE_LIMITED",
    });
  });

  it("never lets a number or free text become a label value", async () => {
    expect(safeCommandLabels("SetNumber", "1250000")).toEqual({ type: "SetNumber", outcome: "INTERNAL" });
    expect(safeCommandLabels("SetNumber", "amount 1250000 too high")).toEqual({
      type: "SetNumber",
      outcome: "INTERNAL",
    });
    expect(safeCommandLabels("125000", "ok")).toEqual({ type: "unknown", outcome: "ok" });
    expect(safeCommandLabels("x".repeat(100), "ok").type).toBe("unknown");

    const metrics = createMetrics();
    metrics.observeCommand("SetNumber", "1250000", 0.01);
    const text = await metrics.registry.metrics();
    expect(text).not.toContain("1250000");
    expect(text).toContain('backchannel_commands_total{type="SetNumber",outcome="INTERNAL"} 1');
  });
});
