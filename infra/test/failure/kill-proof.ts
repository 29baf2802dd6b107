// The kill -9 proof (issue 10), run on each backend by proofs.test.ts.
//
// 20 clients (the two sides of 10 sessions in Step 3, numbers that never cross: every demand above 9,120,000.00,
// every offer below 1,231,000.00; nine-digit cents, which no millisecond count of a day or less can equal) each
// stream 50 SetNumber commands over their own socket, every command with its own idempotency key and a distinct
// amount, three at a time. Once a random number of them (250 to 650) has been acknowledged, the node is killed with
// SIGKILL, mid-stream. It is restarted on the same storage, and the durable store is read back through the API
// (GET /api/sessions/:id/number: the side's number and its whole history):
//  - every acknowledged command is in the history (an ack is a promise: "0 lost");
//  - no amount is in it twice, neither before nor after every unacknowledged command is sent again with the SAME
//    idempotency key and a sample of acknowledged ones is replayed too ("0 applied twice"); after the retries each
//    side's history holds exactly its 50 amounts, once each.
import { randomInt, randomUUID } from "node:crypto";
import { expect } from "vitest";
import type { TopologyNode } from "../../topology/start";
import { fmt, openSession, Participant, pool, waitPhase } from "./support";

const SESSIONS = 10;
const PER_SIDE = 50; // 10 sessions x 2 sides x 50 = 1,000 commands (the rules allow at most 100 changes per side a day)
const WINDOW = 3; // commands each client keeps in flight

type Status = "unsent" | "in-flight" | "acked" | "refused" | "unanswered";

interface Planned {
  key: string;
  amount: number;
  status: Status;
  refusal?: string;
}

interface Stream {
  sessionId: string;
  side: "claimant" | "respondent";
  who: Participant;
  commands: Planned[];
}

interface History {
  amount: number | null;
  step: number;
}

async function history(s: Stream): Promise<number[]> {
  const r = await s.who.expect<{ own: { history: History[] } }>(
    200,
    "GET",
    `/api/sessions/${s.sessionId}/number`,
  );
  return r.own.history.map((h) => h.amount as number);
}

/** Counts per amount, and the amounts found more than once. */
function duplicates(amounts: number[]): number[] {
  const seen = new Map<number, number>();
  for (const a of amounts) seen.set(a, (seen.get(a) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([a]) => a);
}

/** Runs the proof against `node` (clients talk to node.url); returns every amount it sent (all confidential). */
export async function killProof(
  backend: string,
  node: Pick<TopologyNode, "url" | "kill" | "restart" | "alive">,
) {
  const started = Date.now();
  // ---------------------------------------------------------------- setup: 10 sessions in Step 3, 20 sockets
  const pairs = await pool(
    Array.from({ length: SESSIONS }, (_, i) => i),
    4,
    async (i) => {
      const claimant = await new Participant(node.url, `Claimant ${i}`).signUp();
      const respondent = await new Participant(node.url, `Respondent ${i}`).signUp();
      const sessionId = await openSession(claimant, respondent, undefined, `Kill proof ${i}`);
      await waitPhase(claimant, sessionId, "step3");
      for (const p of [claimant, respondent]) {
        await p.connect();
        await p.open(sessionId);
      }
      return { sessionId, claimant, respondent };
    },
  );
  const streams: Stream[] = pairs.flatMap(({ sessionId, claimant, respondent }, s) => [
    {
      sessionId,
      side: "claimant" as const,
      who: claimant,
      // 9,120,000.00 and up: the claimant's demands
      commands: Array.from({ length: PER_SIDE }, (_, i) => ({
        key: randomUUID(),
        amount: 912_000_000 + s * 10_000 + i * 7 + 1,
        status: "unsent" as Status,
      })),
    },
    {
      sessionId,
      side: "respondent" as const,
      who: respondent,
      // below 1,231,000.00: the respondent's offers
      commands: Array.from({ length: PER_SIDE }, (_, i) => ({
        key: randomUUID(),
        amount: 123_000_000 + s * 10_000 + i * 7 + 3,
        status: "unsent" as Status,
      })),
    },
  ]);
  const all = streams.flatMap((s) => s.commands);
  const setupMs = Date.now() - started;

  // ---------------------------------------------------------------- stream, and kill -9 mid-stream
  const killAfter = randomInt(250, 650); // acknowledged commands before the kill
  let acked = 0;
  let killing: Promise<void> | undefined;
  let inFlightAtKill = -1;
  const streamStarted = Date.now();
  const send = async (s: Stream, c: Planned) => {
    c.status = "in-flight";
    try {
      const ack = await s.who.command(s.sessionId, { type: "SetNumber", amount: c.amount }, c.key);
      if (ack.ok) {
        c.status = "acked";
        acked++;
      } else {
        c.status = "refused";
        c.refusal = `${ack.code}: ${ack.message}`;
      }
    } catch {
      c.status = "unanswered"; // the socket died, or no answer in time
    }
    if (acked >= killAfter && !killing) {
      inFlightAtKill = all.filter((x) => x.status === "in-flight").length;
      killing = node.kill("SIGKILL");
    }
  };
  await Promise.all(
    streams.map(async (s) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: WINDOW }, async () => {
          while (!killing && next < s.commands.length) await send(s, s.commands[next++] as Planned);
        }),
      );
    }),
  );
  const streamMs = Date.now() - streamStarted;
  expect(killing, `the stream ended (${acked} acknowledged) before the kill`).toBeDefined();
  await killing;
  expect(node.alive()).toBe(false);
  const refused = all.filter((c) => c.status === "refused");
  expect(refused.map((c) => c.refusal)).toEqual([]);
  const ackedBefore = all.filter((c) => c.status === "acked");
  const unanswered = all.filter((c) => c.status === "unanswered");
  const unsent = all.filter((c) => c.status === "unsent");

  // ---------------------------------------------------------------- restart on the same storage, read it back
  const restartStarted = Date.now();
  await node.restart();
  const restartMs = Date.now() - restartStarted;
  for (const s of streams) {
    s.who.close();
    await s.who.connect();
    await s.who.open(s.sessionId);
  }
  let lost = 0;
  let twice = 0;
  let committedUnanswered = 0; // committed before the kill, but the ack never arrived
  const lostDetail: string[] = [];
  for (const s of streams) {
    const stored = await history(s);
    const have = new Set(stored);
    for (const c of s.commands)
      if (c.status === "acked" && !have.has(c.amount)) {
        lost++;
        lostDetail.push(`${s.sessionId} ${s.side} ${c.amount}`);
      }
    twice += duplicates(stored).length;
    for (const c of s.commands) if (c.status === "unanswered" && have.has(c.amount)) committedUnanswered++;
    // Nothing that was never sent is there.
    for (const c of s.commands) if (c.status === "unsent") expect(have.has(c.amount)).toBe(false);
  }

  // ---------------------------------------------------------------- retries with the same keys
  // Every unanswered command again (applied now, or answered from its receipt), every unsent one for the first
  // time, and a sample of acknowledged ones replayed: none may be applied a second time.
  const replayed = new Set(ackedBefore.filter((_, i) => i % 10 === 0));
  await Promise.all(
    streams.map(async (s) => {
      for (const c of s.commands) {
        if (c.status === "acked" && !replayed.has(c)) continue;
        const ack = await s.who.command(s.sessionId, { type: "SetNumber", amount: c.amount }, c.key);
        expect(ack, `retry of ${c.status} ${s.side} ${c.amount}`).toMatchObject({ ok: true });
      }
    }),
  );
  let incomplete = 0;
  for (const s of streams) {
    const stored = await history(s);
    twice += duplicates(stored).length;
    const planned = s.commands.map((c) => c.amount).sort((a, b) => a - b);
    if (JSON.stringify([...stored].sort((a, b) => a - b)) !== JSON.stringify(planned)) incomplete++;
  }
  for (const s of streams) s.who.close();

  const line = `kill -9 on ${backend}: ${fmt(ackedBefore.length)} acknowledged, ${lost} lost, ${twice} applied twice, ${inFlightAtKill} in flight at the kill`;
  console.log(
    `${line}\n  (${fmt(all.length)} commands from ${streams.length} clients; killed after ${fmt(killAfter)} acks, ` +
      `${streamMs} ms into the stream; ${unanswered.length} unanswered (${committedUnanswered} of them committed ` +
      `before the kill) and ${unsent.length} not yet sent, all ` +
      `sent again after the restart with ${replayed.size} acknowledged ones replayed; setup ${setupMs} ms, ` +
      `restart ${restartMs} ms, total ${Date.now() - started} ms)`,
  );
  expect(lostDetail, `${backend}: acknowledged commands missing after the restart`).toEqual([]);
  expect(twice, `${backend}: amounts applied twice`).toBe(0);
  expect(
    incomplete,
    `${backend}: sides whose history is not exactly their 50 amounts after the retries`,
  ).toBe(0);
  expect(inFlightAtKill).toBeGreaterThan(0);
  expect(ackedBefore.length).toBeGreaterThanOrEqual(killAfter);
  return { line, amounts: all.map((c) => c.amount), sessionIds: pairs.map((p) => p.sessionId) };
}
