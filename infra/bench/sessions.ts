// Sets up mediations for the benchmark over the real REST API and sockets: the same four accounts
// (claimant attorney, claimant client with view-only rights, respondent, mediator) join every session,
// and each session is brought into Step 3 (live bidding), where every number change is compared at once.
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
