// Builds a ready mediation: a claimant attorney (creator), a claimant client (view only), a respondent,
// and a mediator, all signed up over REST, joined through invitations and connected over Socket.IO.
import type { RunningServer } from "../../src/server";
import { Participant } from "../support/server";

export const SHORT_RULES = {
  step2DurationMs: 800,
  step3DurationMs: 4000,
  maxSessionMs: 20_000,
  proposalConsentMs: 3000,
  proposalAnswerMs: 3000,
};

export interface Table {
  sessionId: string;
  claimant: Participant;
  claimantClient: Participant;
  respondent: Participant;
  mediator: Participant;
  all: Participant[];
}

export async function invite(
  creator: Participant,
  sessionId: string,
  role: string,
  canBid = true,
): Promise<string> {
  const r = await creator.http("POST", `/api/sessions/${sessionId}/invitations`, { role, canBid });
  if (r.status !== 201) throw new Error(`invite failed ${r.status} ${r.text}`);
  return (r.body as { token: string }).token;
}

export async function accept(p: Participant, token: string) {
  const r = await p.http("POST", "/api/invitations/accept", { token });
  if (r.status !== 200) throw new Error(`accept failed ${r.status} ${r.text}`);
  return r;
}

/** A session whose Step 2 is open (terms skipped by both sides), everyone connected and in the session. */
export async function openTable(
  server: RunningServer,
  rules: Record<string, unknown> = SHORT_RULES,
): Promise<Table> {
  const claimant = await new Participant(server.url, "Claimant Attorney").signUp();
  const claimantClient = await new Participant(server.url, "Claimant Client").signUp();
  const respondent = await new Participant(server.url, "Respondent Adjuster").signUp();
  const mediator = await new Participant(server.url, "Mediator").signUp();
  const created = await claimant.http("POST", "/api/sessions", {
    title: "Smith v. Acme",
    creatorRole: "claimant",
    rules,
    termsText: "Release of all claims; confidentiality; payment within 30 days of $____.",
  });
  if (created.status !== 201) throw new Error(`create failed ${created.status} ${created.text}`);
  const sessionId = (created.body as { view: { id: string } }).view.id;
  await accept(respondent, await invite(claimant, sessionId, "respondent"));
  await accept(mediator, await invite(claimant, sessionId, "mediator"));
  await accept(claimantClient, await invite(claimant, sessionId, "claimant", false));
  const all = [claimant, claimantClient, respondent, mediator];
  for (const p of all) {
    await p.connect();
    const ack = await p.emit("session:open", { sessionId });
    if (!ack.ok) throw new Error(`open failed: ${JSON.stringify(ack)}`);
  }
  await ok(claimant.command(sessionId, { type: "SkipTerms" }));
  await ok(respondent.command(sessionId, { type: "SkipTerms" }));
  await claimant.waitFor((e) => e.type === "Step2Opened");
  return { sessionId, claimant, claimantClient, respondent, mediator, all };
}

export async function ok<T extends { ok: boolean }>(p: Promise<T>): Promise<Extract<T, { ok: true }>> {
  const r = await p;
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r as Extract<T, { ok: true }>;
}

/** Every push a participant received, serialised, for leak checks. */
export function allPushText(p: Participant): string {
  return JSON.stringify(p.pushes);
}
