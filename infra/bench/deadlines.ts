// Many deadlines due in one second, through the public API only: `sessions` sessions are created over REST with
// Step 2 durations chosen so that every Step 2 ends in the same second, each with one socket of its own listening
// (the claimant's, opened on that session), and both numbers entered (far apart: no deal, and no reminders, which
// would be deadlines of their own). Then the bench waits. Per session: when the server fired the deadline (the
// Step2Closed event's time minus the due time) and when the result push reached its socket; plus /healthz
// latency polled through the burst, sockets dropped, and sessions whose socket never heard the result.
//
// The due times are exact (read back from each session's view), so the spread shows they fall in one second. The
// setup's pace is measured first on a few calibration sessions (with a far deadline, not counted), so the common
// end is far enough ahead for every session to be set up before it.
import { DEMAND_START, message, OFFER_START } from "./backchannel";
import { sleep } from "./load";
import { Account, type Connection, pushTypeKey, type SessionPush } from "./participant";
import { type ObservedNode, observePhase, type PhaseStats } from "./phase-stats";
import { createJoinedSession, restCommand, type Trio } from "./sessions";
import { summarize } from "./stats";

export interface DeadlineBurst {
  sessions: number;
  /** last due time - first due time, ms */
  dueSpreadMs: number;
  /** each session's due time - the first due time, ms (the floor is run on the same offsets) */
  dueOffsets: number[];
  /** Step2Closed's time (when the server ran the tick) - due, ms, per session */
  fired: number[];
  /** the result push reached the session's socket - due, ms, per session */
  received: number[];
  /** sessions whose socket never received the result */
  missing: number;
  /** sockets the server or network closed */
  drops: number;
  /** /healthz round trips in the second before the burst, and from the due second until the last push, ms */
  healthzBefore: number[];
  healthzDuring: number[];
  healthzFailures: number;
  setupMs: number;
  /**
   * the machine, the bench's loop and the node, from a second before the burst until the last push (null: not
   * reached)
   */
  phase: PhaseStats | null;
  errors: string[];
}

const RULES_BASE = { step3DurationMs: 3_600_000, maxChangesPerDay: 100 };
const FAR = 3_600_000;

interface Armed {
  sessionId: string;
  socket: Connection;
  due: number;
}

/** Creation -> Step 2 open, ms: the calibration's median, then a moving average of what each setup observed. */
class Lag {
  constructor(public value: number) {}
  observe(ms: number) {
    this.value = 0.8 * this.value + 0.2 * ms;
  }
}

/**
 * One session, its socket listening. The duration is chosen as late as possible: after the socket opened, an
 * UpdateSetup sets it (nothing to withdraw yet), and both sides skip Step 1 at once, so only those commits lie
 * between the choice and Step 2's opening. `end` null: a far end (calibration).
 */
async function setUp(trio: Trio, end: number | null, lag: Lag): Promise<Armed> {
  const sessionId = await createJoinedSession(trio, {
    ...RULES_BASE,
    step2DurationMs: FAR,
    maxSessionMs: 2 * FAR,
  });
  const socket = await trio.claimant.connect();
  try {
    await socket.open(sessionId);
    const chosenAt = Date.now();
    const duration = end === null ? FAR : end - chosenAt - lag.value;
    if (duration < 1000)
      throw new Error(
        "the setup fell behind its estimate: the common end came too close (machine too busy?)",
      );
    await restCommand(trio.claimant, sessionId, {
      type: "UpdateSetup",
      rules: { step2DurationMs: Math.round(duration), maxSessionMs: Math.round(duration) + FAR },
    });
    await Promise.all([
      restCommand(trio.claimant, sessionId, { type: "SkipTerms" }),
      restCommand(trio.respondent, sessionId, { type: "SkipTerms" }),
    ]);
    await restCommand(trio.claimant, sessionId, { type: "SetNumber", amount: DEMAND_START });
    await restCommand(trio.respondent, sessionId, { type: "SetNumber", amount: OFFER_START });
    const r = await trio.claimant.http("GET", `/api/sessions/${sessionId}`);
    const view = (
      r.body as { view?: { step2OpenedAt?: number | null; deadlines?: { step2ClosesAt?: number | null } } }
    ).view;
    const due = view?.deadlines?.step2ClosesAt;
    if (r.status !== 200 || typeof due !== "number") throw new Error(`reading the session: HTTP ${r.status}`);
    if (typeof view?.step2OpenedAt === "number") lag.observe(view.step2OpenedAt - chosenAt);
    return { sessionId, socket, due };
  } catch (err) {
    socket.close();
    throw err;
  }
}

export async function runDeadlineBurst(
  url: string,
  opts: {
    sessions: number;
    concurrency: number;
    waitMs: number;
    /** the servers under test whose /metrics are read around the burst */
    nodes?: readonly ObservedNode[];
    progress?: (line: string) => void;
  },
): Promise<DeadlineBurst> {
  const out: DeadlineBurst = {
    sessions: 0,
    dueSpreadMs: Number.NaN,
    dueOffsets: [],
    fired: [],
    received: [],
    missing: 0,
    drops: 0,
    healthzBefore: [],
    healthzDuring: [],
    healthzFailures: 0,
    phase: null,
    setupMs: 0,
    errors: [],
  };
  const armed: Armed[] = [];
  const calibration: Armed[] = [];
  try {
    const trio: Trio = {
      claimant: await new Account(url, "Claimant Attorney").signUp(),
      respondent: await new Account(url, "Respondent Adjuster").signUp(),
    };
    // Calibration: the setup's pace and how long after the duration is chosen Step 2 actually opens.
    // Two rounds: the first warms the server up (its sessions are several times slower), the second is timed. The
    // timed round runs four sessions per slot of the pool: one per slot measured the pool filling up, not its pace
    // (10,000 sessions priced at 116 ms each took 40 ms, and the bench then waited 20 minutes for the burst).
    const warm = Math.min(Math.max(opts.concurrency, 8), opts.sessions);
    const timed = Math.min(4 * warm, opts.sessions);
    const lag = new Lag(0);
    const lags: number[] = [];
    let c0 = 0;
    for (const [round, k] of [warm, timed].entries()) {
      c0 = performance.now();
      await pool(k, opts.concurrency, async () => {
        const probe = new Lag(0);
        calibration.push(await setUp(trio, null, probe));
        if (round === 1) lags.push(probe.value / 0.2);
      });
    }
    lag.value = summarize(lags).p50;
    const perSession = (performance.now() - c0) / timed;
    const setupBudget = perSession * opts.sessions * 1.5 + 3000;
    const end = Math.ceil((Date.now() + setupBudget) / 1000) * 1000 + 500; // the middle of a whole second
    opts.progress?.(
      `    ${opts.sessions} sessions, ~${perSession.toFixed(0)} ms each to set up (choice -> Step 2 open ~${lag.value.toFixed(0)} ms); all due at ${new Date(end).toISOString()}`,
    );

    const s0 = performance.now();
    await pool(opts.sessions, opts.concurrency, async () => {
      armed.push(await setUp(trio, end, lag));
      if (opts.sessions >= 1000 && armed.length % 1000 === 0)
        opts.progress?.(`    ${armed.length}/${opts.sessions} sessions armed`);
    });
    out.setupMs = Math.round(performance.now() - s0);
    out.sessions = armed.length;
    const dues = armed.map((a) => a.due);
    out.dueSpreadMs = Math.max(...dues) - Math.min(...dues);
    const first = Math.min(...dues);
    const last = Math.max(...dues);
    out.dueOffsets = dues.map((d) => d - first);

    // Listen for every result, then poll /healthz from a second before the burst until the last result.
    const waits = armed.map((a) =>
      a.socket.arrivals
        .waitFor(pushTypeKey(a.sessionId, "Step2Closed"), last - Date.now() + opts.waitMs)
        .then(
          (arrival) => ({ a, arrival }),
          () => ({ a, arrival: null }),
        ),
    );
    await sleep(Math.max(0, first - 1000 - Date.now()));
    const observing = await observePhase(opts.nodes);
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const t0 = performance.now();
        const wall = Date.now();
        try {
          const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) });
          await res.arrayBuffer();
          if (res.status !== 200) out.healthzFailures += 1;
          else (wall < first ? out.healthzBefore : out.healthzDuring).push(performance.now() - t0);
        } catch {
          out.healthzFailures += 1;
        }
        await sleep(10);
      }
    })();
    const results = await Promise.all(waits);
    polling = false;
    await poller;
    out.phase = await observing.stop();
    out.errors.push(...out.phase.errors.map((e) => `metrics of ${e}`));
    for (const { a, arrival } of results) {
      if (!arrival) {
        out.missing += 1;
        continue;
      }
      const push = arrival.payload as SessionPush & { event: { at?: number } };
      if (typeof push.event.at === "number") out.fired.push(push.event.at - a.due);
      out.received.push(performance.timeOrigin + arrival.at - a.due);
    }
    if (out.missing > 0) out.errors.push(`${out.missing} session(s) never received Step2Closed`);
    const s = summarize(out.received);
    opts.progress?.(`    burst: received p50 ${s.p50} ms, max ${s.max} ms late; ${out.missing} missing`);
  } catch (err) {
    out.errors.push(`deadline burst: ${message(err)}`);
  } finally {
    for (const a of [...armed, ...calibration]) {
      if (a.socket.dropped) out.drops += 1;
      a.socket.close();
    }
  }
  return out;
}

/** Runs `count` tasks, `concurrency` at a time; the first failure stops the rest. */
async function pool(count: number, concurrency: number, task: () => Promise<void>): Promise<void> {
  let started = 0;
  let failed = false;
  const worker = async () => {
    while (started < count && !failed) {
      started += 1;
      try {
        await task();
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
