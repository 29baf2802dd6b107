// Prometheus metrics. Each server instance gets its own Registry (tests start many servers in one process).
// Label values are command types and error codes, never a number a party entered: observeCommand enforces it.

import { Counter, collectDefaultMetrics, Gauge, Histogram, type Metric, Registry } from "prom-client";

export interface Metrics {
  registry: Registry;
  /** open Socket.IO connections on this node */
  sockets: Gauge;
  commandsTotal: Counter<"type" | "outcome">;
  commandDuration: Histogram<"type">;
  /** how long after its due time a deadline fired */
  deadlineLateness: Histogram;
  dealsTotal: Counter;
  /** counts one command and its duration; outcome is "ok" or an error code */
  observeCommand(type: string, outcome: string, durationSeconds: number): void;
}

export const METRIC_PREFIX = "backchannel_";

// Default process metrics install a GC observer and an event-loop monitor that are never removed; creating
// them once per process (and sharing them with every instance's registry) keeps many test servers cheap.
let processRegistry: Registry | undefined;

function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

const COMMAND_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/** A label value that is not a command type or an error code is replaced, so a stray value cannot leak. */
export function safeCommandLabels(type: string, outcome: string): { type: string; outcome: string } {
  return {
    type: COMMAND_TYPE.test(type) ? type : "unknown",
    outcome: outcome === "ok" || ERROR_CODE.test(outcome) ? outcome : "INTERNAL",
  };
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  // getMetricsAsArray is typed as plain objects but returns the metric instances themselves.
  for (const metric of processMetrics().getMetricsAsArray())
    registry.registerMetric(metric as unknown as Metric);
  const registers = [registry];

  const sockets = new Gauge({
    name: `${METRIC_PREFIX}sockets`,
    help: "Open Socket.IO connections on this node.",
    registers,
  });
  const commandsTotal = new Counter({
    name: `${METRIC_PREFIX}commands_total`,
    help: 'Session commands handled, by type and outcome ("ok" or an error code).',
    labelNames: ["type", "outcome"] as const,
    registers,
  });
  const commandDuration = new Histogram({
    name: `${METRIC_PREFIX}command_duration_seconds`,
    help: "Time from receiving a session command to acknowledging it.",
    labelNames: ["type"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const deadlineLateness = new Histogram({
    name: `${METRIC_PREFIX}deadline_lateness_seconds`,
    help: "How long after its due time a deadline was processed.",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers,
  });
  const dealsTotal = new Counter({
    name: `${METRIC_PREFIX}deals_total`,
    help: "Deals made.",
    registers,
  });

  return {
    registry,
    sockets,
    commandsTotal,
    commandDuration,
    deadlineLateness,
    dealsTotal,
    observeCommand(type, outcome, durationSeconds) {
      const labels = safeCommandLabels(type, outcome);
      commandsTotal.inc(labels);
      commandDuration.observe({ type: labels.type }, Math.max(0, durationSeconds));
    },
  };
}
