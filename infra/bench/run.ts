// `npm run bench`: Backchannel's latencies next to a bare Socket.IO baseline measured in the same run, on the
// same machine, printed as one table and written as JSON to the temp folder. A benchmark, not a test: it
// asserts no speed, but exits non-zero when anything failed (a refused command, a push or deal that never came).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type BackchannelResults, runBackchannel } from "./backchannel";
import { prepareBackend } from "./backend";
import { type RoundTrips, runBaseline } from "./baseline";
import { type Comparison, compare, renderTable, rowsOf } from "./report";
import { BENCH_RULES } from "./sessions";

function whole(name: string, fallback: number, min: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number >= ${min}`);
  return n;
}

const params = {
  iterations: whole("BENCH_ITERATIONS", 300, 1),
  warmup: whole("BENCH_WARMUP", 50, 0),
  deals: whole("BENCH_DEALS", 30, 1),
  crowd: whole("BENCH_CROWD", 50, 4),
};

function commit(): string | null {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return null;
  }
}

const startedAt = new Date();
const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
const errors: string[] = [];
const environment = {
  node: process.version,
  platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? "unknown",
  memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  commit: commit(),
  backend: "",
};

console.log(
  `Backchannel benchmark: ${params.iterations} timed iterations (+${params.warmup} warm-up), ${params.deals} deals`,
);

const empty = (): RoundTrips => ({ ack: [], fanout: [] });
const baseline = { small: empty(), crowd: empty() };
for (const [key, sockets] of [
  ["small", 4],
  ["crowd", params.crowd],
] as const) {
  try {
    baseline[key] = await runBaseline({ sockets, iterations: params.iterations, warmup: params.warmup });
    console.log(`  baseline, ${sockets} sockets: done (${elapsed()})`);
  } catch (err) {
    errors.push(`baseline, ${sockets} sockets: ${err instanceof Error ? err.message : String(err)}`);
  }
}

let backchannel: BackchannelResults | undefined;
try {
  const backend = await prepareBackend(process.env);
  environment.backend = backend.label;
  console.log(`  backend: ${backend.label}`);
  try {
    backchannel = await runBackchannel(backend, params);
    errors.push(...backchannel.errors);
    errors.push(...backchannel.serverLog.errors.map((m) => `server logged an error: ${m}`));
    console.log(`  backchannel: done (${elapsed()})`);
  } finally {
    await backend.dispose();
  }
} catch (err) {
  errors.push(`backchannel: ${err instanceof Error ? err.message : String(err)}`);
}

const bc = backchannel ?? {
  numberChange: empty(),
  numberChangeCrowd: empty(),
  deal: { ack: [], notified: [] },
  serverLog: { warnings: [], errors: [] },
};
const n = params.crowd;
const comparisons: Array<[Comparison, Array<"p50" | "p95" | "p99" | "max">]> = [
  [compare("ack, 4 sockets in session", baseline.small.ack, bc.numberChange.ack), ["p50", "p95", "p99"]],
  [
    compare("push reached all 4 sockets", baseline.small.fanout, bc.numberChange.fanout),
    ["p50", "p95", "p99"],
  ],
  [
    compare(`ack, ${n} sockets in session`, baseline.crowd.ack, bc.numberChangeCrowd.ack),
    ["p50", "p95", "p99"],
  ],
  [
    compare(`push reached all ${n} sockets`, baseline.crowd.fanout, bc.numberChangeCrowd.fanout),
    ["p50", "p95", "p99"],
  ],
  [compare("deal: ack of the matching bid", baseline.small.ack, bc.deal.ack), ["p50", "p95", "max"]],
  [compare("deal: DealMade reached all 4", baseline.small.fanout, bc.deal.notified), ["p50", "p95", "max"]],
];
const rows = comparisons.flatMap(([c, stats]) => rowsOf(c, stats));

console.log("");
console.log(renderTable(rows));
console.log("");
console.log(
  "baseline: bare Socket.IO (no auth, validation or database): emit with ack, server acks and broadcasts to the room",
);
console.log(
  "backchannel: Step 3 SetNumber over the real gateway and session service (commit, then ack and push);",
);
console.log(
  "             the deal rows time the bid that matches a standing number, against the baseline's 4-socket round;",
);
console.log("             a max has no ratio: it is one outlier of runs of different lengths");
const envLoad = os
  .loadavg()
  .map((x) => x.toFixed(2))
  .join(" ");
console.log(
  `environment: node ${environment.node}, ${environment.cpus} cpu (${environment.cpuModel}), ${environment.platform}, ` +
    `backend ${environment.backend || "n/a"}, load average ${environment.loadAverageAtStart.join(" ")} at start, ${envLoad} at end`,
);

const warnings = bc.serverLog.warnings;
if (warnings.length > 0)
  console.log(`server warnings: ${warnings.length} (${[...new Set(warnings)].slice(0, 5).join("; ")})`);

const file = path.join(
  os.tmpdir(),
  `backchannel-bench-${startedAt.toISOString().replace(/[:.]/g, "-")}.json`,
);
writeFileSync(
  file,
  `${JSON.stringify(
    {
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - t0),
      environment: { ...environment, loadAverageAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100) },
      parameters: { ...params, rules: BENCH_RULES },
      rows,
      summaries: comparisons.map(([c]) => c),
      samplesMs: {
        baseline,
        backchannel: {
          numberChange: bc.numberChange,
          numberChangeCrowd: bc.numberChangeCrowd,
          deal: bc.deal,
        },
      },
      serverLog: bc.serverLog,
      errors,
    },
    null,
    2,
  )}\n`,
);
console.log(`results: ${file}`);
console.log(`total time: ${elapsed()}`);

if (errors.length > 0) {
  console.error(`\n${errors.length} error(s):`);
  for (const e of errors.slice(0, 20)) console.error(`  - ${e}`);
}
// Socket.IO clients and database handles are closed above; exit explicitly so a stray timer cannot hold the run.
process.exit(errors.length > 0 ? 1 : 0);
