// Sets up mediations for the benchmark over the real REST API and sockets: the same four accounts
// (claimant attorney, claimant client with view-only rights, respondent, mediator) join every session,
// and each session is brought into Step 3 (live bidding), where every number change is compared at once.
import { randomUUID } from "node:crypto";
import { type Account, type Connection, pushTypeKey } from "./participant";

export interface Cast {
  claimant: Account;
  claimantClient: Account;
  respondent: Account;
  mediator: Account;
}

/** One socket per member of the cast, plus optional extra mediator sockets watching the same sessions. */
export interface Seats {
  claimant: Connection;
  claimantClient: Connection;
  respondent: Connection;
  mediator: Connection;
}

export interface Step3Session {
  sessionId: string;
  /** every socket that opened this session: the fan-out audience, the sender included */
  sockets: Connection[];
}

// Step 2 as short as the rules allow, so sessions reach live bidding quickly; Step 3 long enough never to
// expire during a run; the highest change allowance, so one session absorbs as many measured bids as possible.
export const BENCH_RULES = {
  step2DurationMs: 100,
  step3DurationMs: 3_600_000,
  maxSessionMs: 7_200_000,
  maxChangesPerDay: 100,
};

const STEP3_TIMEOUT_MS = 10_000;

async function expectStatus(p: Promise<{ status: number; body: unknown }>, status: number, what: string) {
  const r = await p;
  if (r.status !== status) {
    const code = (r.body as { error?: { code?: string } } | null)?.error?.code ?? "no code";
    throw new Error(`${what} failed with HTTP ${r.status} (${code})`);
  }
  return r.body;
}

async function invite(cast: Cast, sessionId: string, role: string, member: Account, canBid = true) {
  const body = await expectStatus(
    cast.claimant.http("POST", `/api/sessions/${sessionId}/invitations`, { role, canBid }),
    201,
    `inviting the ${role}`,
  );
  const token = (body as { token: string }).token;
  await expectStatus(
    member.http("POST", "/api/invitations/accept", { token }),
    200,
    `${member.name} accepting`,
  );
}

export async function openStep3Session(
  cast: Cast,
  seats: Seats,
  observers: Connection[] = [],
): Promise<Step3Session> {
  const created = await expectStatus(
    cast.claimant.http("POST", "/api/sessions", {
      title: "Benchmark v. Harness",
      creatorRole: "claimant",
      rules: BENCH_RULES,
      termsText: "Release of all claims against payment of $____ within 30 days.",
    }),
    201,
    "creating a session",
  );
  const sessionId = (created as { view: { id: string } }).view.id;
  await invite(cast, sessionId, "respondent", cast.respondent);
  await invite(cast, sessionId, "mediator", cast.mediator);
  await invite(cast, sessionId, "claimant", cast.claimantClient, false);

  const sockets = [seats.claimant, seats.claimantClient, seats.respondent, seats.mediator, ...observers];
  for (const s of sockets) await s.open(sessionId);
  for (const side of [seats.claimant, seats.respondent]) {
    const ack = await side.command(sessionId, { type: "SkipTerms" });
    if (!ack.ok) throw new Error(`SkipTerms refused with ${ack.code}`);
  }
  await seats.mediator.arrivals.waitFor(
    pushTypeKey(sessionId, "Step3Opened"),
    STEP3_TIMEOUT_MS,
    "Step 3 to open",
  );
  return { sessionId, sockets };
}

/** The three parties of a session at scale (no view-only member): one account each, signed up once. */
export interface Trio {
  claimant: Account;
  respondent: Account;
  mediator?: Account;
}

/** A command over REST (`POST /api/sessions/:id/commands`), refused -> thrown. */
export async function restCommand(
  who: Account,
  sessionId: string,
  command: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const body = await expectStatus(
    who.http("POST", `/api/sessions/${sessionId}/commands`, {
      idempotencyKey: `bench-${randomUUID()}`,
      command,
    }),
    200,
    `${String(command.type)} by ${who.name}`,
  );
  return body as Record<string, unknown>;
}

/**
 * Creates a session over REST with `rules`, the respondent (and the mediator, if any) invited and joined. Step 1
 * is still open: the caller skips it when its sockets listen.
 */
export async function createJoinedSession(trio: Trio, rules: Record<string, number>): Promise<string> {
  const created = await expectStatus(
    trio.claimant.http("POST", "/api/sessions", {
      title: "Benchmark v. Harness",
      creatorRole: "claimant",
      rules,
    }),
    201,
    "creating a session",
  );
  const sessionId = (created as { view: { id: string } }).view.id;
  const cast = { claimant: trio.claimant } as Cast;
  await invite(cast, sessionId, "respondent", trio.respondent);
  if (trio.mediator) await invite(cast, sessionId, "mediator", trio.mediator);
  return sessionId;
}

/** Both sides skip Step 1 (REST), which opens Step 2 at once (the session's start is now). */
export async function skipStep1(trio: Trio, sessionId: string): Promise<void> {
  await restCommand(trio.claimant, sessionId, { type: "SkipTerms" });
  await restCommand(trio.respondent, sessionId, { type: "SkipTerms" });
}

/**
 * A session in Step 3 with one socket of its own per party (claimant, respondent, mediator), each having opened
 * only this session: 1,000 of them are 3,000 sockets.
 */
export async function openLiveSession(trio: Required<Trio>): Promise<Step3Session> {
  const sessionId = await createJoinedSession(trio, BENCH_RULES);
  const sockets = [
    await trio.claimant.connect(),
    await trio.respondent.connect(),
    await trio.mediator.connect(),
  ];
  try {
    for (const s of sockets) await s.open(sessionId);
    await skipStep1(trio, sessionId);
    await Promise.all(
      sockets.map((s) =>
        s.arrivals.waitFor(pushTypeKey(sessionId, "Step3Opened"), STEP3_TIMEOUT_MS, "Step 3 to open"),
      ),
    );
  } catch (err) {
    for (const s of sockets) s.close();
    throw err;
  }
  return { sessionId, sockets };
}
