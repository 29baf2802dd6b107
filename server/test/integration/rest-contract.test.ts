// The REST responses are what common/src/api.ts says they are: every route's body parses with its schema,
// so a client that validates responses with the shared schemas never rejects a real one.
import {
  acceptedInvitationSchema,
  auditKeySchema,
  authResponseSchema,
  commandAckSchema,
  createdInvitationSchema,
  errorBodySchema,
  sessionListSchema,
  sessionResponseSchema,
} from "@backchannel/common";
import { describe, expect, it } from "vitest";
import { backends, Participant, useServer } from "../support/server";

for (const backend of backends()) {
  describe(`REST contract on ${backend}`, () => {
    const suite = useServer(backend);

    it("answers every route in the shape of its shared schema", async () => {
      const parse = (schema: { parse(x: unknown): unknown }, body: unknown) =>
        expect(() => schema.parse(body)).not.toThrow();
      const claimant = new Participant(suite.server.url, "Claimant");
      const email = `c-${Date.now()}@example.test`;
      const signup = await claimant.http("POST", "/api/auth/signup", {
        email,
        password: "long enough pw",
        displayName: "C",
      });
      parse(authResponseSchema, signup.body);
      const signin = await claimant.http("POST", "/api/auth/signin", { email, password: "long enough pw" });
      parse(authResponseSchema, signin.body);
      claimant.token = (signin.body as { token: string }).token;
      claimant.user = (signin.body as { user: typeof claimant.user }).user;
      const respondent = await new Participant(suite.server.url, "Respondent").signUp();

      const created = await claimant.http("POST", "/api/sessions", {
        title: "Contract",
        creatorRole: "claimant",
        rules: { step2DurationMs: 60_000, maxSessionMs: 120_000 },
      });
      expect(created.status).toBe(201);
      parse(sessionResponseSchema, created.body);
      const sessionId = (created.body as { view: { id: string } }).view.id;
      parse(sessionListSchema, (await claimant.http("GET", "/api/sessions")).body);
      parse(sessionResponseSchema, (await claimant.http("GET", `/api/sessions/${sessionId}`)).body);
      parse(
        auditKeySchema,
        (await new Participant(suite.server.url, "Anyone").http("GET", "/api/audit/key")).body,
      );

      const inv = await claimant.http("POST", `/api/sessions/${sessionId}/invitations`, {
        role: "respondent",
      });
      parse(createdInvitationSchema, inv.body);
      const accepted = await respondent.http("POST", "/api/invitations/accept", {
        token: (inv.body as { token: string }).token,
      });
      parse(acceptedInvitationSchema, accepted.body);

      // A revoked invitation can no longer be accepted.
      const spare = await claimant.http("POST", `/api/sessions/${sessionId}/invitations`, {
        role: "mediator",
      });
      const spareId = (spare.body as { invitation: { id: string } }).invitation.id;
      expect(
        (await claimant.http("DELETE", `/api/sessions/${sessionId}/invitations/${spareId}`)).status,
      ).toBe(200);
      const late = await new Participant(suite.server.url, "Late Mediator").signUp();
      const refused = await late.http("POST", "/api/invitations/accept", {
        token: (spare.body as { token: string }).token,
      });
      expect(refused.status).toBeGreaterThanOrEqual(400);
      parse(errorBodySchema, refused.body);
      expect((refused.body as { error: { code: string } }).error.code).toBe("INVITE_INVALID");

      for (const p of [claimant, respondent]) {
        const r = await p.http("POST", `/api/sessions/${sessionId}/commands`, {
          idempotencyKey: `skip-${p.user.id}`,
          command: { type: "SkipTerms" },
        });
        expect(r.status, r.text).toBe(200);
        parse(commandAckSchema, r.body);
      }
      const set = await claimant.http("POST", `/api/sessions/${sessionId}/commands`, {
        idempotencyKey: "set-number-1",
        command: { type: "SetNumber", amount: 73_914_205 },
      });
      parse(commandAckSchema, set.body);
      expect((set.body as { own: { amount: number } }).own.amount).toBe(73_914_205);
      parse(errorBodySchema, (await claimant.http("GET", "/api/nowhere")).body);
    });
  });
}
