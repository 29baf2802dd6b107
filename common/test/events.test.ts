// The wire schemas of events (src/events.ts) describe exactly what visibility produces: every event of random
// sessions, projected for every role, passes visibleEventSchema, and its broadcast form passes broadcastEventSchema;
// a push with a confidential amount, an extra field or an unknown type does not.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { broadcastEventSchema, VISIBLE_EVENT_TYPES, visibleEventSchema } from "../src/events";
import { sessionEventPushSchema } from "../src/protocol";
import type { Viewer } from "../src/visibility";
import { forBroadcast, projectStream } from "../src/visibility";
import { propertyParameters, randomSessionArbitrary } from "./engine/arbitrary";

// A stream depends on the viewer's role only (visibility.ts).
const VIEWERS: Viewer[] = (["claimant", "respondent", "mediator"] as const).map((role) => ({
  userId: "",
  role,
}));

describe("event wire schemas", () => {
  it("accept every projected event of random sessions, for every role, and its broadcast form", () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(randomSessionArbitrary(), (session) => {
        for (const viewer of VIEWERS) {
          for (const { event } of projectStream(session.events, viewer).stream) {
            seen.add(event.type);
            const visible = visibleEventSchema.safeParse(event);
            expect(visible.success, `${viewer.role} ${event.type}`).toBe(true);
            const broadcast = broadcastEventSchema.safeParse(forBroadcast(event));
            expect(broadcast.success, `${viewer.role} ${event.type} (broadcast)`).toBe(true);
          }
        }
      }),
      propertyParameters(60),
    );
    // Every session starts with its creation; the redacted shapes are also tried one by one in the next test.
    expect(seen).toContain("SessionCreated");
  });

  it("refuse a confidential amount in a push, an extra field, and a type this version does not know", () => {
    const numberSet = { type: "NumberSet", side: "claimant", by: "u1", step: 2, at: 1 };
    expect(broadcastEventSchema.safeParse(numberSet).success).toBe(true);
    expect(broadcastEventSchema.safeParse({ ...numberSet, amount: 5_000_000 }).success).toBe(false);
    expect(broadcastEventSchema.safeParse({ ...numberSet, amount: null }).success).toBe(false);
    expect(visibleEventSchema.safeParse({ ...numberSet, amount: 5_000_000 }).success).toBe(true);
    const smart = {
      type: "SmartProposalMade",
      requestId: "r",
      proposalId: "r",
      answerBy: 2,
      consentedBy: "u2",
      at: 1,
    };
    expect(broadcastEventSchema.safeParse(smart).success).toBe(true);
    expect(broadcastEventSchema.safeParse({ ...smart, amount: 7_000_000 }).success).toBe(false);
    expect(
      broadcastEventSchema.safeParse({
        type: "BidSet",
        side: "claimant",
        by: "u1",
        step: 2,
        at: 1,
        amount: 1,
      }).success,
    ).toBe(false);
    expect(
      broadcastEventSchema.safeParse({ type: "Step2Closed", deal: false, at: 1, extra: 1 }).success,
    ).toBe(false);
    expect(broadcastEventSchema.safeParse({ type: "NoSuchEvent", at: 1 }).success).toBe(false);
    expect(VISIBLE_EVENT_TYPES).toContain("NumberSet");
    expect(VISIBLE_EVENT_TYPES).not.toContain("BidSet");
  });

  it("the push schema's messages never echo the refused content", () => {
    const push = {
      sessionId: "00000000-0000-4000-8000-000000000000",
      version: 1,
      head: {
        sessionId: "00000000-0000-4000-8000-000000000000",
        stream: "claimant",
        position: 1,
        head: "a".repeat(64),
        signature: "s".repeat(86),
        keyId: "0123456789abcdef",
      },
      event: { type: "NumberSet", side: "claimant", by: "u1", step: 2, at: 1, amount: 73_400_123 },
    };
    const r = sessionEventPushSchema.safeParse(push);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues.map((i) => i.message))).not.toContain("73400123");
  });
});
