// Prometheus metrics. Each server instance gets its own Registry (tests start many servers in one process).
// Label values are command types and error codes, never a number a party entered: observeCommand enforces it.

import { createHash, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
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

const METRIC_PREFIX = "backchannel_";

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

export interface MetricsServer {
  /** http://host:port of the listener */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The metrics listener: GET /metrics on a port of its own (METRICS_PORT, bound to METRICS_HOST), never on the app's
 * public port: counters move when a party acts, so they are for operators only. With a token, every request must
 * carry `Authorization: Bearer <token>`.
 */
export async function startMetricsServer(opts: {
  metrics: Metrics;
  host: string;
  port: number;
  token?: string;
}): Promise<MetricsServer> {
  const expected = opts.token ? createHash("sha256").update(opts.token).digest() : undefined;
  const authorised = (header: string | undefined): boolean => {
    if (!expected) return true;
    const presented = /^Bearer\s+(\S+)$/i.exec(header?.trim() ?? "")?.[1];
    if (!presented) return false;
    return timingSafeEqual(createHash("sha256").update(presented).digest(), expected);
  };
  const server = createServer((req, res) => {
    const pathname = (req.url ?? "/").split("?")[0];
    if (pathname !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
      res
        .writeHead(404, { "content-type": "text/plain; charset=utf-8" })
        .end("Not found: this listener serves /metrics.\n");
      return;
    }
    if (!authorised(req.headers.authorization)) {
      res
        .writeHead(401, {
          "content-type": "text/plain; charset=utf-8",
          "www-authenticate": 'Bearer realm="metrics"',
        })
        .end("Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.\n");
      return;
    }
    opts.metrics.registry.metrics().then(
      (text) => {
        res.writeHead(200, { "content-type": opts.metrics.registry.contentType });
        res.end(req.method === "HEAD" ? undefined : text);
      },
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
