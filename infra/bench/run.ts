// `npm run bench` (docs/benchmarks.md): Backchannel's figures next to the floor and a bare Socket.IO server
// measured in the same run, on the same machine, as one table; JSON, the table and an SVG of the latency
// distributions go to infra/bench/results/<time>/. A benchmark, not a test: a missed target is reported, not
// failed; the exit code is non-zero only when something broke (a refused command, a push that never came).
//
//   npm run bench                      full run (PostgreSQL and Redis rows when DATABASE_URL / REDIS_URL are set)
//   npm run bench -- --quick           about a minute: the embedded backend, small scales
//   npm run bench -- --write-docs      also put the table into docs/benchmarks.md
//   npm run bench -- --scenarios=floor,acks,throughput,deals,deadlines,idle,two-nodes
//   npm run bench -- --backends=embedded|postgres   one backend's rows only
// Every scale is a flag (or BENCH_<NAME> in the environment): see PARAMS below.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { type BackchannelResults, message, runBackchannel } from "./backchannel";
import { type Backend, BENCH_NODE, prepareBackend } from "./backend";
import { type RoundTrips, runBaseline } from "./baseline";
import { hardNofileLimit, startChild } from "./child";
import { type DeadlineBurst, runDeadlineBurst } from "./deadlines";
import { type DealsAtScale, runDealsAtScale } from "./deals";
import {
  type DeadlineFloor,
  type DealsFloor,
  type FloorSamples,
  runDeadlineFloor,
  runDealsFloor,
  runFloor,
  runThroughputFloor,
} from "./floor";
import { type IdleScale, runIdleSockets } from "./idle";
import { machineNote, nodeNote, type PhaseStats } from "./phase-stats";
import { cdfSvg, type Series } from "./plot";
import { type Row, renderMarkdown, renderTable, row, type Section, skipped } from "./report";
import { BENCH_RULES } from "./sessions";
import { summarize } from "./stats";
import { runThroughput, type ThroughputResults } from "./throughput";
import { runTwoNodes, type TwoNodes } from "./two-nodes";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../..");
const SCENARIOS = ["floor", "acks", "throughput", "deals", "deadlines", "idle", "two-nodes"] as const;
type Scenario = (typeof SCENARIOS)[number];

// ---------------------------------------------------------------- parameters

const argv = process.argv.slice(2);
const flags = new Map<string, string>();
for (let i = 0; i < argv.length; i++) {
  const a = argv[i] as string;
  if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
  const eq = a.indexOf("=");
  if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
  else if (argv[i + 1] !== undefined && !(argv[i + 1] as string).startsWith("--"))
    flags.set(a.slice(2), argv[++i] as string);
  else flags.set(a.slice(2), "true");
}
// From the repository root, `npm run bench -- --quick` reaches this script through a second npm (the root script
// runs `npm run bench --workspace infra`), which takes the flags as its own config and hands them over as
// npm_config_<name>: read those too.
const envName = (flag: string) => `BENCH_${flag.toUpperCase().replace(/-/g, "_")}`;
const raw = (flag: string): string | undefined =>
  flags.get(flag) ??
  (process.env[envName(flag)]?.trim() || undefined) ??
  (process.env[`npm_config_${flag.replace(/-/g, "_")}`]?.trim() || undefined);
const quick = raw("quick") === "true";
const writeDocs = raw("write-docs") === "true";
function num(flag: string, full: number, fast: number): number {
  const v = raw(flag);
  if (v === undefined || v === "") return quick ? fast : full;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${flag} must be a number >= 0`);
  return n;
}
function list(flag: string, full: number[], fast: number[]): number[] {
  const v = raw(flag);
  if (v === undefined || v === "") return quick ? fast : full;
  const out = v.split(",").map(Number);
  if (out.some((n) => !Number.isFinite(n) || n <= 0)) throw new Error(`--${flag} must be numbers > 0`);
  return out;
}

/** Each: full run, --quick. */
const PARAMS = {
  iterations: num("iterations", 300, 100),
  warmup: num("warmup", 50, 20),
  deals: num("deals", 30, 10),
  crowd: num("crowd", 50, 4),
  rates: list("rates", [10, 25, 50, 100, 200, 400, 800, 1000, 1500], [10, 25, 50]),
  stepMs: num("step-ms", 5000, 2000),
  p99LimitMs: num("p99-limit-ms", 50, 50),
  sendersPerSide: num("senders-per-side", 4, 2),
  dealSessions: num("deal-sessions", 1000, 20),
  dealCount: num("deal-count", 100, 10),
  backgroundRate: num("background-rate", 100, 10),
  deadlines: num("deadlines", 10_000, 30),
  deadlineConcurrency: num("deadline-concurrency", 8, 4),
  deadlineWaitMs: num("deadline-wait-ms", 60_000, 15_000),
  idle: list("idle", [5000, 20_000, 50_000], [200]),
  idlePerProcess: num("idle-per-process", 5000, 100),
  idleHoldMs: num("idle-hold-ms", 30_000, 1000),
  idleSteadyMs: num("idle-steady-ms", 30_000, 8000),
  twoNodeSessions: num("two-node-sessions", 1000, 20),
};
const only = raw("scenarios")
  ?.split(",")
  .map((s) => s.trim())
  .filter(Boolean);
for (const s of only ?? [])
  if (!SCENARIOS.includes(s as Scenario))
    throw new Error(`--scenarios: unknown scenario ${s} (${SCENARIOS.join(", ")})`);
const wants = (s: Scenario) => !only || only.includes(s);
// --backends=embedded or =postgres: one backend's scenarios only (profiling one side, half the wait).
const onlyBackends = raw("backends")
  ?.split(",")
  .map((s) => s.trim())
  .filter(Boolean);
for (const b of onlyBackends ?? [])
  if (b !== "embedded" && b !== "postgres")
    throw new Error(`--backends: unknown backend ${b} (embedded, postgres)`);
const databaseUrl = process.env.DATABASE_URL?.trim() || undefined;
const redisUrl = process.env.REDIS_URL?.trim() || undefined;

// ---------------------------------------------------------------- the run

const startedAt = new Date();
const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0)} s`;
const progress = (line: string) => console.log(line);
const errors: string[] = [];
const sections: Section[] = [];
const plot: Series[] = [];
const raws: Record<string, unknown> = {};
const serverWarnings: string[] = [];

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
/** Redis's timer frequency: BullMQ's delayed jobs fire on its tick (production config: hz 100). */
async function redisHz(url: string | undefined): Promise<number | null> {
  if (!url) return null;
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    const answer = (await redis.config("GET", "hz")) as string[];
    return Number(answer[1]);
  } catch {
    return null;
  } finally {
    redis.disconnect();
  }
}

const environment = {
  redisHz: await redisHz(redisUrl),
  node: process.version,
  platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? "unknown",
  memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  nofileHardLimit: hardNofileLimit(),
  commit: commit(),
};

console.log(
  `Backchannel benchmark (${quick ? "--quick" : "full"}${only ? `, scenarios ${only.join(",")}` : ""}), load average ${environment.loadAverageAtStart.join(" ")} on ${environment.cpus} cpu`,
);

async function step<T>(what: string, fn: () => Promise<T>): Promise<T | null> {
  console.log(`- ${what} (${elapsed()})`);
  try {
    return await fn();
  } catch (err) {
    errors.push(`${what}: ${message(err)}`);
    console.log(`  failed: ${message(err)}`);
    return null;
  }
}

const p = (xs: number[], stat: "p50" | "p99" | "max") => (xs.length > 0 ? summarize(xs)[stat] : Number.NaN);
const ratioAtMost = (limit: number) => (_: number, ratio: number | null) => ratio !== null && ratio <= limit;
const atMost = (limit: number) => (v: number) => v <= limit;
/** The issue's goal for a burst: every deadline fired within this long of its due time (p99). */
const FIRED_P99_TARGET_MS = 1000;

// The yardstick without a database: a bare Socket.IO server, 4 sockets in the room (and `crowd` for the crowd rows).
const bare: { small: RoundTrips | null; crowd: RoundTrips | null } = { small: null, crowd: null };
if (wants("acks") || wants("floor") || wants("deals")) {
  await step("bare Socket.IO server: ack and push to the room", async () => {
    const child = await startChild("bare", {});
    try {
      bare.small = await runBaseline(child.url, {
        sockets: 4,
        iterations: PARAMS.iterations,
        warmup: PARAMS.warmup,
      });
      if (PARAMS.crowd > 4 && wants("acks"))
        bare.crowd = await runBaseline(child.url, {
          sockets: PARAMS.crowd,
          iterations: PARAMS.iterations,
          warmup: PARAMS.warmup,
        });
    } finally {
      await child.close();
    }
  });
  if (bare.small) plot.push({ label: "bare Socket.IO ack", samples: bare.small.ack });
  raws.bare = bare;
}

interface BackendPlan {
  key: "embedded" | "postgres";
  env: NodeJS.ProcessEnv;
  skip: string | null;
}
const backends: BackendPlan[] = [
  { key: "embedded", env: {}, skip: null },
  {
    key: "postgres",
    env: { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl },
    skip: quick ? "--quick runs the embedded backend only" : databaseUrl ? null : "DATABASE_URL not set",
  },
];
const singleNodePg: { ack: number[]; fanout: number[] } = { ack: [], fanout: [] };
/** PostgreSQL's deal-notice floor (one node), the reference for the two-node deal rows too. */
let pgDealsFloor: DealsFloor | null = null;

const backendScenarios = (["floor", "acks", "throughput", "deals", "deadlines"] as const).filter(wants);
for (const plan of backendScenarios.length > 0 ? backends : []) {
  if (onlyBackends && !onlyBackends.includes(plan.key)) continue;
  const name = plan.key === "embedded" ? "PGlite" : "PostgreSQL";
  if (plan.skip) {
    const why = plan.skip;
    sections.push({
      title: `${name}: ${backendScenarios.join(", ")}`,
      rows: backendScenarios.map((s) => skipped(`${name}: ${s}`, "ms", why)),
    });
    continue;
  }
  let backend: Backend | null = null;
  try {
    backend = await prepareBackend(plan.env);
  } catch (err) {
    errors.push(`${name}: ${message(err)}`);
    sections.push({ title: name, rows: [skipped(`${name} backend`, "ms", message(err))] });
    continue;
  }
  const label = backend.label;
  try {
    // ---- floor
    let floor: FloorSamples | null = null;
    if (wants("floor") || wants("acks")) {
      floor = await step(`floor on ${name}: bare Socket.IO ack + durable commit`, () =>
        runFloor({
          databaseUrl: backend?.env.DATABASE_URL,
          iterations: PARAMS.iterations,
          warmup: PARAMS.warmup,
        }),
      );
      if (floor) {
        plot.push({ label: `floor (${name})`, samples: floor.ack });
        sections.push({
          title: `floor: ${name}`,
          rows: [
            row({
              metric: "floor: Socket.IO ack + durable commit, p50",
              value: p(floor.ack, "p50"),
              unit: "ms",
            }),
            row({
              metric: "floor: Socket.IO ack + durable commit, p99",
              value: p(floor.ack, "p99"),
              unit: "ms",
            }),
            row({ metric: "  of which the commit alone, p50", value: p(floor.commit, "p50"), unit: "ms" }),
            row({
              metric: "  bare Socket.IO ack (no commit), p50",
              value: bare.small ? p(bare.small.ack, "p50") : null,
              unit: "ms",
            }),
          ],
        });
        raws[`floor_${plan.key}`] = floor;
      }
    }

    // The floors of throughput and of the deal notice at scale: the same load against the floor server, before the
    // server under test starts (so nothing else is running).
    const throughputFloor = wants("throughput")
      ? await step(`throughput's floor on ${name}: ${PARAMS.rates.join(", ")} /s`, () =>
          runThroughputFloor({
            databaseUrl: backend?.env.DATABASE_URL,
            rates: PARAMS.rates,
            stepMs: PARAMS.stepMs,
            p99LimitMs: PARAMS.p99LimitMs,
            sendersPerSide: PARAMS.sendersPerSide,
          }),
        )
      : null;
    if (throughputFloor)
      raws[`throughput_floor_${plan.key}`] = throughputFloor.steps.map(({ samples: _s, ...s }) => s);
    const dealsFloor = wants("deals")
      ? await step(`the deal notice's floor on ${name}: ${PARAMS.dealSessions} rooms of 3 sockets`, () =>
          runDealsFloor({
            databaseUrl: backend?.env.DATABASE_URL,
            sessions: PARAMS.dealSessions,
            deals: PARAMS.dealCount,
            backgroundRate: PARAMS.backgroundRate,
            nofile: 3 * PARAMS.dealSessions + 1024,
          }),
        )
      : null;
    if (dealsFloor) {
      raws[`deals_floor_${plan.key}`] = dealsFloor;
      plot.push({
        label: `deal notice floor at ${dealsFloor.sessions} rooms (${name})`,
        samples: dealsFloor.notified,
      });
      if (plan.key === "postgres") pgDealsFloor = dealsFloor;
    }

    // ---- the server under test, one child process for the scenarios below
    const needFds =
      (wants("deadlines") ? PARAMS.deadlines + 16 : 0) +
      (wants("deals") ? 3 * PARAMS.dealSessions : 0) +
      1024;
    const runsHere = ["acks", "throughput", "deals", "deadlines"].some((s) => wants(s as Scenario));
    if (!runsHere) continue;
    const server = await step(`Backchannel on ${label}: start`, () =>
      startChild("backchannel", { ...BENCH_NODE, ...backend?.env }, { nofile: Math.max(4096, needFds) }),
    );
    if (!server) continue;
    // Read around the timed phases of the deals and the burst: the node's CPU, GC pauses and loop delay.
    const observed = server.metricsUrl ? [{ name: "the node", metricsUrl: server.metricsUrl }] : [];
    try {
      if (wants("acks")) {
        const bc = await step(`SetNumber acks and pushes on ${name}`, () =>
          runBackchannel(server.url, {
            iterations: PARAMS.iterations,
            warmup: PARAMS.warmup,
            deals: PARAMS.deals,
            crowd: PARAMS.crowd,
          }),
        );
        if (bc) {
          errors.push(...bc.errors.map((e) => `${name}: ${e}`));
          raws[`acks_${plan.key}`] = bc;
          if (plan.key === "postgres") Object.assign(singleNodePg, bc.numberChange);
          plot.push({ label: `SetNumber ack (${name})`, samples: bc.numberChange.ack });
          plot.push({ label: `deal notice, 4 sockets (${name})`, samples: bc.deal.notified });
          sections.push({ title: `acks: ${label}, one command in flight`, rows: ackRows(bc, floor) });
        }
      }
      if (wants("throughput")) {
        const tp = await step(`open-loop throughput on ${name}: ${PARAMS.rates.join(", ")} /s`, () =>
          runThroughput(server.url, server, {
            rates: PARAMS.rates,
            stepMs: PARAMS.stepMs,
            p99LimitMs: PARAMS.p99LimitMs,
            sendersPerSide: PARAMS.sendersPerSide,
          }),
        );
        if (tp) {
          errors.push(...tp.errors);
          raws[`throughput_${plan.key}`] = {
            ...tp,
            steps: tp.steps.map(({ samples: _s, ...s }) => s),
          };
          for (const s of tp.steps)
            plot.push({
              label: `open loop ${s.rate}/s${s.attempt > 1 ? " again" : ""} ack (${name})`,
              samples: s.samples,
            });
          sections.push({ title: `throughput: ${label}`, rows: throughputRows(tp, throughputFloor) });
        }
      }
      if (wants("deals")) {
        const d = await step(
          `deal notice at ${PARAMS.dealSessions} sessions (${3 * PARAMS.dealSessions} sockets) on ${name}`,
          () =>
            runDealsAtScale(server.url, {
              sessions: PARAMS.dealSessions,
              deals: PARAMS.dealCount,
              backgroundRate: PARAMS.backgroundRate,
              nodes: observed,
              progress,
            }),
        );
        if (d) {
          errors.push(...d.errors.map((e) => `${name}: ${e}`));
          raws[`deals_${plan.key}`] = d;
          plot.push({ label: `deal notice at ${d.sessions} sessions (${name})`, samples: d.notified });
          sections.push({
            title: `deal notice at ${d.sessions} live sessions (${d.sockets} sockets), ${d.background.rate}/s background: ${label}`,
            rows: dealRows(d, 10, dealsFloor),
          });
        }
      }
      if (wants("deadlines")) {
        const scheduler = backend.env.REDIS_URL
          ? `BullMQ, Redis hz ${environment.redisHz ?? "?"}`
          : "in-process scheduler";
        const title = `${PARAMS.deadlines} deadlines in one second: ${label}`;
        if (PARAMS.deadlines + 1024 > server.nofile) {
          sections.push({
            title,
            rows: [
              skipped(
                `${scheduler}: deadlines fired`,
                "ms",
                `needs ulimit -n >= ${PARAMS.deadlines + 1024} (hard limit here ${hardNofileLimit()})`,
              ),
            ],
          });
        } else {
          const burst = await step(`${PARAMS.deadlines} deadlines due in one second (${scheduler})`, () =>
            runDeadlineBurst(server.url, {
              sessions: PARAMS.deadlines,
              concurrency: PARAMS.deadlineConcurrency,
              waitMs: PARAMS.deadlineWaitMs,
              nodes: observed,
              progress,
            }),
          );
          // The floor on the same database and the same due offsets, once the server under test is idle again.
          const floorBurst =
            burst && burst.dueOffsets.length > 0
              ? await step(`the burst's floor on ${name}: ${burst.dueOffsets.length} bare deadlines`, () =>
                  runDeadlineFloor({
                    databaseUrl: backend?.env.DATABASE_URL,
                    dueOffsets: burst.dueOffsets,
                    nofile: server.nofile,
                    waitMs: PARAMS.deadlineWaitMs,
                  }),
                )
              : null;
          if (burst) {
            errors.push(...burst.errors.map((e) => `${name}: ${e}`));
            if (floorBurst && floorBurst.missing > 0)
              errors.push(`${name}: the burst's floor: ${floorBurst.missing} push(es) never arrived`);
            raws[`deadlines_${plan.key}`] = burst;
            if (floorBurst) raws[`deadlines_floor_${plan.key}`] = floorBurst;
            plot.push({ label: `deadline result push lateness (${scheduler})`, samples: burst.received });
            if (floorBurst)
              plot.push({ label: `deadline floor push lateness (${name})`, samples: floorBurst.received });
            sections.push({ title, rows: deadlineRows(burst, floorBurst) });
          }
        }
      }
    } finally {
      const log = await server.close();
      serverWarnings.push(...log.warnings);
      errors.push(...log.errors.map((e) => `${name} server logged an error: ${e}`));
    }
  } finally {
    await backend.dispose().catch((err: unknown) => errors.push(`${name} cleanup: ${message(err)}`));
  }
}

// ---- idle sockets
if (wants("idle")) {
  const idle = await step(`idle sockets: ${PARAMS.idle.join(", ")}`, () =>
    runIdleSockets({
      scales: PARAMS.idle,
      perProcess: PARAMS.idlePerProcess,
      holdMs: PARAMS.idleHoldMs,
      steadyMs: PARAMS.idleSteadyMs,
      env: BENCH_NODE,
      progress,
    }),
  );
  if (idle) {
    errors.push(...idle.errors);
    raws.idle = idle;
    sections.push({ title: "idle sockets: embedded node vs bare Socket.IO", rows: idleRows(idle.scales) });
  }
}

// ---- two web nodes
if (wants("two-nodes")) {
  const why = quick
    ? "--quick runs no topology"
    : !databaseUrl || !redisUrl
      ? "needs DATABASE_URL and REDIS_URL"
      : null;
  if (why) {
    sections.push({
      title: "two web nodes behind a proxy",
      rows: [skipped("deal notice across two web nodes, p99", "ms", why, "<= 25 ms")],
    });
  } else {
    const two = await step(`two web nodes behind a proxy (${PARAMS.twoNodeSessions} sessions at scale)`, () =>
      runTwoNodes({
        databaseUrl: databaseUrl as string,
        redisUrl: redisUrl as string,
        iterations: PARAMS.iterations,
        warmup: PARAMS.warmup,
        deals: PARAMS.dealCount,
        sessions: PARAMS.twoNodeSessions,
        backgroundRate: PARAMS.backgroundRate,
        progress,
      }),
    );
    if (two) {
      errors.push(...two.errors);
      raws.twoNodes = two;
      if (two.crossNode)
        plot.push({ label: "push across nodes, all 4", samples: two.crossNode.numberChange.fanout });
      if (two.dealsAtScale)
        plot.push({ label: "deal notice across nodes at scale", samples: two.dealsAtScale.notified });
      sections.push({
        title: `two web nodes behind ${two.proxy || "a"} proxy (PostgreSQL + Redis)`,
        rows: twoNodeRows(two),
      });
    }
  }
}

// ---------------------------------------------------------------- rows

function ackRows(bc: BackchannelResults, floor: FloorSamples | null): Row[] {
  const f50 = floor ? p(floor.ack, "p50") : null;
  const f99 = floor ? p(floor.ack, "p99") : null;
  const b = bare.small;
  const rows = [
    row({
      metric: "SetNumber ack, p50",
      value: p(bc.numberChange.ack, "p50"),
      unit: "ms",
      reference: { value: f50, label: "floor p50" },
      target: { text: "<= 1.5x floor", met: ratioAtMost(1.5) },
    }),
    row({
      metric: "SetNumber ack, p99",
      value: p(bc.numberChange.ack, "p99"),
      unit: "ms",
      reference: { value: f99, label: "floor p99" },
    }),
    row({
      metric: "NumberSet push reached all 4 sockets, p50",
      value: p(bc.numberChange.fanout, "p50"),
      unit: "ms",
      reference: { value: b ? p(b.fanout, "p50") : null, label: "bare" },
    }),
    row({
      metric: "NumberSet push reached all 4 sockets, p99",
      value: p(bc.numberChange.fanout, "p99"),
      unit: "ms",
      reference: { value: b ? p(b.fanout, "p99") : null, label: "bare" },
    }),
  ];
  if (PARAMS.crowd > 4 && bc.numberChangeCrowd.fanout.length > 0) {
    const c = bare.crowd;
    rows.push(
      row({
        metric: `NumberSet push reached all ${PARAMS.crowd} sockets, p50`,
        value: p(bc.numberChangeCrowd.fanout, "p50"),
        unit: "ms",
        reference: { value: c ? p(c.fanout, "p50") : null, label: "bare" },
      }),
      row({
        metric: `NumberSet push reached all ${PARAMS.crowd} sockets, p99`,
        value: p(bc.numberChangeCrowd.fanout, "p99"),
        unit: "ms",
        reference: { value: c ? p(c.fanout, "p99") : null, label: "bare" },
      }),
    );
  }
  if (bc.deal.notified.length > 0)
    rows.push(
      row({
        metric: `deal: DealMade reached all 4 (${bc.deal.notified.length} deals), p50`,
        value: p(bc.deal.notified, "p50"),
        unit: "ms",
        reference: { value: b ? p(b.fanout, "p50") : null, label: "bare push" },
      }),
      row({
        metric: "deal: DealMade reached all 4, max",
        value: p(bc.deal.notified, "max"),
        unit: "ms",
      }),
    );
  return rows;
}

function throughputRows(tp: ThroughputResults, floor: Omit<ThroughputResults, "errors"> | null): Row[] {
  const stepNote = (s: ThroughputResults["steps"][number]) =>
    `p50 ${s.ackP50.toFixed(1)} ms, ${s.ok}/${s.sent} ok, ${s.achieved}/s answered, server CPU ${s.cpuPercent ?? "?"}%${s.sendLagP99 > 20 ? `, generator ${s.sendLagP99.toFixed(0)} ms late (p99)` : ""}`;
  const rows = tp.steps.map((s) => {
    // The floor's step at the same rate (its second when this is a second and the floor ran one too).
    const atRate = floor?.steps.filter((x) => x.rate === s.rate) ?? [];
    const f = atRate.find((x) => x.attempt === s.attempt) ?? atRate[atRate.length - 1];
    return row({
      metric: `${s.rate}/s open loop${s.attempt > 1 ? ", again" : ""}: ack p99`,
      value: s.ackP99,
      unit: "ms",
      reference: { value: f && Number.isFinite(f.ackP99) ? f.ackP99 : null, label: "floor p99" },
      target: { text: `<= ${PARAMS.p99LimitMs} ms`, met: atMost(PARAMS.p99LimitMs) },
      note: stepNote(s),
    });
  });
  const held = tp.steps.find((s) => s.rate === tp.maxRate && s.held);
  rows.push(
    row({
      metric: `highest rate with ack p99 <= ${PARAMS.p99LimitMs} ms`,
      value: tp.maxRate ?? 0,
      unit: "/s",
      reference: { value: floor?.maxRate ?? null, label: "floor" },
      target: { text: ">= 1000/s", met: (v) => v >= 1000 },
      note: tp.maxRate === null ? `not even ${tp.steps[0]?.rate ?? "?"}/s held` : undefined,
    }),
    held
      ? row({ metric: "  server CPU at that rate", value: held.cpuPercent, unit: "%" })
      : skipped("  server CPU at that rate", "%", "no rate held"),
  );
  for (const r of rows) if (r.status === "failed") r.status = "missed";
  if (floor) {
    // The floor's own steps, as far as it went: where a group-committing bare server stops on this machine.
    const last = floor.steps[floor.steps.length - 1];
    rows.push(
      row({
        metric: "  floor: highest rate with ack p99 <= 50 ms",
        value: floor.maxRate ?? 0,
        unit: "/s",
        note: last
          ? `the floor server, commands sharing commits; its last step ${last.rate}/s: ${stepNote(last)}`
          : undefined,
      }),
    );
  }
  return rows;
}

function dealRows(d: DealsAtScale, targetP99: number, floor: DealsFloor | null, floorLabel = "floor"): Row[] {
  const b = bare.small;
  // Against the same load on the floor server (a commit shared with the background's, a push to 3 sockets) when it
  // was measured; else against the bare push to 4 sockets with nothing else running.
  const reference = (stat: "p50" | "p99") =>
    floor && floor.notified.length > 0
      ? { value: p(floor.notified, stat), label: floorLabel }
      : { value: b ? p(b.fanout, stat) : null, label: "bare push" };
  const rows = [
    row({
      metric: `deal notice (emit -> DealMade at all 3), p50, ${d.notified.length} deals`,
      value: p(d.notified, "p50"),
      unit: "ms",
      reference: reference("p50"),
    }),
    row({
      metric: "deal notice, p99",
      value: p(d.notified, "p99"),
      unit: "ms",
      reference: reference("p99"),
      target: { text: `p99 <= ${targetP99} ms`, met: atMost(targetP99) },
    }),
  ];
  if (floor)
    rows.push(
      row({
        metric: `  ${floorLabel}: a command to a room of 3, its commit shared with the background's; p99`,
        value: floor.notified.length > 0 ? p(floor.notified, "p99") : null,
        unit: "ms",
        note: `${floor.sessions} rooms, ${3 * floor.sessions} sockets, ${floor.notified.length} timed, background ${floor.background.ok}/${floor.background.sent} ok at ${floor.background.rate}/s (ack p99 ${floor.background.ackP99.toFixed(1)} ms)`,
      }),
    );
  rows.push(
    row({
      metric: `background SetNumber ${d.background.rate}/s: ack p99`,
      value: d.background.ackP99,
      unit: "ms",
      note: `${d.background.ok}/${d.background.sent} ok`,
    }),
    row({ metric: "sockets dropped", value: d.drops, unit: "count", target: { text: "0", met: atMost(0) } }),
  );
  // What else went on while the deals were timed: a p99 is read against these (phase-stats.ts).
  if (d.phase) rows.push(...phaseRows(d.phase, "during the deals"));
  if (floor?.phase)
    rows.push(
      row({
        metric: `  ${floorLabel}: machine busy`,
        value: floor.phase.machineBusyPercent,
        unit: "%",
        note: machineNote(floor.phase),
      }),
    );
  return rows;
}

function deadlineRows(b: DeadlineBurst, floor: DeadlineFloor | null): Row[] {
  const rows: Row[] = [
    row({
      metric: `deadlines due (spread of due times ${b.dueSpreadMs} ms)`,
      value: b.sessions,
      unit: "count",
      note: `setup ${(b.setupMs / 1000).toFixed(0)} s`,
    }),
  ];
  const floorOf = (samples: number[] | undefined, stat: "p50" | "p99" | "max") => ({
    value: samples && samples.length > 0 ? p(samples, stat) : null,
    label: "floor",
  });
  for (const stat of ["p50", "p99", "max"] as const)
    rows.push(
      row({
        metric: `fired late (event time - due), ${stat}`,
        value: p(b.fired, stat),
        unit: "ms",
        reference: floorOf(floor?.fired, stat),
        ...(stat === "p99"
          ? { target: { text: `<= ${FIRED_P99_TARGET_MS} ms`, met: atMost(FIRED_P99_TARGET_MS) } }
          : {}),
      }),
    );
  for (const stat of ["p50", "p99", "max"] as const)
    rows.push(
      row({
        metric: `result push received late, ${stat}`,
        value: p(b.received, stat),
        unit: "ms",
        reference: floorOf(floor?.received, stat),
      }),
    );
  if (floor)
    rows.push(
      row({
        metric: "  floor: a timer, a row group-committed (100 a batch), one push each; received p99",
        value: p(floor.received, "p99"),
        unit: "ms",
        note: `${floor.sessions} sockets, same due offsets, same database; fired p99 ${p(floor.fired, "p99").toFixed(0)} ms, ${floor.missing} missing`,
      }),
    );
  rows.push(
    row({
      metric: "sessions whose socket missed the result push",
      value: b.missing,
      unit: "count",
      target: { text: "0", met: atMost(0) },
    }),
    row({
      metric: "/healthz during the burst, p99",
      value: p(b.healthzDuring, "p99"),
      unit: "ms",
      reference: { value: p(b.healthzBefore, "p99"), label: "before" },
      target: { text: "<= 100 ms", met: atMost(100) },
      note: `p50 ${p(b.healthzDuring, "p50").toFixed(1)} ms, max ${p(b.healthzDuring, "max").toFixed(0)} ms, ${b.healthzFailures} failed`,
    }),
    row({ metric: "sockets dropped", value: b.drops, unit: "count", target: { text: "0", met: atMost(0) } }),
  );
  if (b.phase) rows.push(...cpuPerDeadlineRows(b, b.phase), ...phaseRows(b.phase, "during the burst"));
  return rows;
}

/**
 * What the burst cost the node per deadline, against what one event loop could spend per deadline and still fire the
 * last one within the target: the due times' spread plus the 1 s target, shared by every deadline. The CPU is the
 * node process's, all its threads (GC's helpers, the mail thread) and the second before the burst included, so a
 * ratio near 1 proves nothing; one well above it says the target is out of reach at this cost, however the loop
 * orders the work.
 */
function cpuPerDeadlineRows(b: DeadlineBurst, phase: PhaseStats): Row[] {
  if (b.sessions === 0 || phase.nodes.length === 0) return [];
  const cpuMs = phase.nodes.reduce((sum, n) => sum + (n.cpuPercent / 100) * phase.seconds * 1000, 0);
  const windowMs = b.dueSpreadMs + FIRED_P99_TARGET_MS;
  return [
    row({
      metric: "  node CPU per deadline",
      value: cpuMs / b.sessions,
      unit: "ms",
      reference: { value: windowMs / b.sessions, label: "one loop's budget" },
      note: `${(cpuMs / 1000).toFixed(1)} s of CPU over ${phase.seconds.toFixed(1)} s; the budget: the due spread + the 1 s target (${windowMs} ms) over ${b.sessions} deadlines`,
    }),
  ];
}

/** The machine's and each observed node's rows for a timed phase (phase-stats.ts). */
function phaseRows(phase: PhaseStats, during: string): Row[] {
  return [
    row({
      metric: `  ${during}: machine busy`,
      value: phase.machineBusyPercent,
      unit: "%",
      note: machineNote(phase),
    }),
    ...phase.nodes.map((n) =>
      row({ metric: `  ${during}: ${n.name}, CPU`, value: n.cpuPercent, unit: "%", note: nodeNote(n) }),
    ),
  ];
}

function idleRows(scales: IdleScale[]): Row[] {
  const rows: Row[] = [];
  const firstMeasured = scales.find((s) => s.backchannel)?.backchannel;
  rows.push(
    row({
      metric: "embedded node RSS before any socket",
      value: firstMeasured ? firstMeasured.rssIdle / 2 ** 20 : null,
      unit: "MiB",
      reference: {
        value: (() => {
          const m = scales.find((s) => s.bare)?.bare;
          return m ? m.rssIdle / 2 ** 20 : null;
        })(),
        label: "bare",
      },
    }),
  );
  for (const s of scales) {
    // "19,000 (20,000 needs ulimit -n >= 20,512; hard limit here 20,000)" when the limit allowed fewer.
    const at = `${s.measured.toLocaleString("en-US")}${s.reduced ? ` (${s.reduced})` : ""}`;
    if (s.skipped) {
      rows.push(
        skipped(
          `${s.sockets.toLocaleString("en-US")} sockets: RSS per socket`,
          "KiB",
          s.skipped,
          "<= 1.2x bare",
        ),
      );
      continue;
    }
    const bc = s.backchannel;
    const bareM = s.bare;
    const growth = Math.min(
      bc ? bc.rssAfter - bc.rssBefore : Number.POSITIVE_INFINITY,
      bareM ? bareM.rssAfter - bareM.rssBefore : Number.POSITIVE_INFINITY,
    );
    const perSocket = row({
      metric: `${at} sockets: RSS per socket`,
      value: bc ? bc.perSocket / 1024 : Number.NaN,
      unit: "KiB",
      reference: { value: bareM ? bareM.perSocket / 1024 : null, label: "bare" },
      target: { text: "<= 1.2x bare", met: ratioAtMost(1.2) },
      note: bc
        ? `${bc.connected} open (${bc.failed} failed${bc.firstError ? `: ${bc.firstError}` : ""}), server RSS ${(bc.rssAfter / 2 ** 20).toFixed(0)} MiB, ` +
          `live heap ${(bc.heapPerSocket / 1024).toFixed(1)} KiB per socket${bareM ? ` (bare ${(bareM.heapPerSocket / 1024).toFixed(1)})` : ""}`
        : undefined,
    });
    // A few hundred sockets move RSS less than the allocator and GC do on their own: no figure to judge.
    if (growth < 8 * 2 ** 20) {
      perSocket.status = "info";
      perSocket.note = `RSS grew ${(growth / 2 ** 20).toFixed(1)} MiB: below the noise, too few sockets to judge; ${perSocket.note ?? ""}`;
    }
    rows.push(
      perSocket,
      row({
        metric: `${s.measured.toLocaleString("en-US")} sockets: dropped while idle`,
        value: bc ? bc.drops : Number.NaN,
        unit: "count",
        target: { text: "0", met: atMost(0) },
        note: `held ${(PARAMS.idleHoldMs / 1000).toFixed(0)} s`,
      }),
    );
  }
  return rows;
}

function twoNodeRows(t: TwoNodes): Row[] {
  const rows: Row[] = [];
  const c = t.crossNode;
  if (c) {
    rows.push(
      row({
        metric: "SetNumber ack through the proxy, p50",
        value: p(c.numberChange.ack, "p50"),
        unit: "ms",
        reference: { value: singleNodePg.ack.length ? p(singleNodePg.ack, "p50") : null, label: "one node" },
      }),
      row({
        metric: "push committed on A reached all 4 (3 on B), p50",
        value: p(c.numberChange.fanout, "p50"),
        unit: "ms",
        reference: {
          value: singleNodePg.fanout.length ? p(singleNodePg.fanout, "p50") : null,
          label: "one node",
        },
      }),
      row({
        metric: "push committed on A reached all 4 (3 on B), p99",
        value: p(c.numberChange.fanout, "p99"),
        unit: "ms",
        reference: {
          value: singleNodePg.fanout.length ? p(singleNodePg.fanout, "p99") : null,
          label: "one node",
        },
      }),
    );
  }
  if (t.dealsAtScale) rows.push(...dealRows(t.dealsAtScale, 25, pgDealsFloor, "floor, one node"));
  return rows;
}

// ---------------------------------------------------------------- output

const table = renderTable(sections);
console.log("");
console.log(table);
console.log("");
const envLine =
  `node ${environment.node}, ${environment.cpus} cpu (${environment.cpuModel}), ${environment.memoryGiB} GiB, ` +
  `${environment.platform}; load average ${environment.loadAverageAtStart.join(" ")} at start, ` +
  `${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")} at end; ulimit -n hard ${environment.nofileHardLimit}`;
console.log(`environment: ${envLine}`);
if (serverWarnings.length > 0)
  console.log(
    `server warnings: ${serverWarnings.length} (${[...new Set(serverWarnings)].slice(0, 3).join("; ")})`,
  );

const stamp = startedAt.toISOString().replace(/[:.]/g, "-");
const outDir = path.resolve(raw("out") ?? path.join(HERE, "results"), stamp);
mkdirSync(outDir, { recursive: true });
const rows = sections.flatMap((s) => s.rows.map((r) => ({ section: s.title, ...r })));
writeFileSync(
  path.join(outDir, "results.json"),
  `${JSON.stringify(
    {
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - t0),
      mode: quick ? "quick" : "full",
      only: only ?? null,
      environment: { ...environment, loadAverageAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100) },
      parameters: { ...PARAMS, rules: BENCH_RULES },
      rows,
      scenarios: raws,
      samplesMs: Object.fromEntries(
        plot.map((s) => [s.label, s.samples.map((x) => Math.round(x * 1000) / 1000)]),
      ),
      serverWarnings: [...new Set(serverWarnings)],
      errors,
    },
    null,
    2,
  )}\n`,
);
writeFileSync(path.join(outDir, "table.txt"), `${table}\n\nenvironment: ${envLine}\n`);
writeFileSync(
  path.join(outDir, "latency.svg"),
  cdfSvg(`Backchannel bench ${startedAt.toISOString()} (${quick ? "quick" : "full"}): latency CDFs`, plot),
);
console.log(
  `results: ${path.relative(process.cwd(), outDir) || outDir} (results.json, table.txt, latency.svg)`,
);

if (writeDocs) {
  const docs = path.join(REPO, "docs/benchmarks.md");
  const begin = "<!-- bench:latest:begin -->";
  const end = "<!-- bench:latest:end -->";
  const block = [
    begin,
    "",
    `**${quick ? "Quick subset (`npm run bench -- --quick`)" : "Full run (`npm run bench`)"}**, ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC, ` +
      `commit ${environment.commit ?? "?"}, ${Math.round((performance.now() - t0) / 1000)} s. Machine: ${envLine}.`,
    "",
    ...(quick
      ? [
          `> **Quick subset, not the full figures.** Embedded backend only, small scales (${PARAMS.dealSessions} sessions for ` +
            `the deal notice, ${PARAMS.deadlines} deadlines, ${PARAMS.idle.join("/")} idle sockets, rates ${PARAMS.rates.join("/")} per s), ` +
            "no PostgreSQL, BullMQ or two-node rows. The full run: `npm run bench --workspace infra -- --write-docs` with " +
            "`DATABASE_URL` and `REDIS_URL` set, on a quiet machine.",
          "",
        ]
      : []),
    renderMarkdown(sections),
    "",
    errors.length > 0
      ? `Errors in this run (${errors.length}): ${errors
          .slice(0, 5)
          .map((e) => `\`${e.replace(/`/g, "'")}\``)
          .join("; ")}`
      : "No errors in this run.",
    "",
    end,
  ].join("\n");
  let text = "";
  try {
    text = readFileSync(docs, "utf8");
  } catch {}
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  text = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + end.length) : `${text}\n${block}\n`;
  writeFileSync(docs, text);
  console.log(`docs/benchmarks.md: latest table written`);
}

console.log(`total time: ${elapsed()}`);
if (errors.length > 0) {
  console.error(`\n${errors.length} error(s):`);
  for (const e of errors.slice(0, 20)) console.error(`  - ${e}`);
}
// Sockets and children are closed above; exit explicitly so a stray timer cannot hold the run.
process.exit(errors.length > 0 ? 1 : 0);
