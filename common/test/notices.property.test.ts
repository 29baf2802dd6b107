// Property: a notice (toast, browser notification, push, mail) never says more than the viewer's own stream. It is
// made only from events the viewer's role sees, it holds no amount at all (no digit: the session's title and the
// names here have none), nobody is told of their own act, and every member hears of a deal.
//
// Reproduce a failure with the printed FC_SEED (and FC_RUNS).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { evolve, type SessionEvent, type SessionState } from "../src/engine";
import { NOTICE_CHANNELS, NOTICE_KINDS, noticeFor } from "../src/notices";
import { eventStreams, projectEvent } from "../src/visibility";
import { propertyParameters, randomSessionArbitrary } from "./engine/arbitrary";

const ctx = { title: "Smith v. Acme", nameOf: () => "Ann" };

function* eachViewing(events: SessionEvent[]) {
  let state: SessionState | null = null;
  for (const event of events) {
    state = evolve(state, event);
    for (const [userId, member] of Object.entries(state.members)) {
      yield { event, state, viewer: { userId, role: member.role } };
    }
  }
}

describe("noticeFor", () => {
  it("tells a viewer only of events its role's stream holds, without an amount (no digit but a step's name), never of its own act", () => {
    let notices = 0;
    fc.assert(
      fc.property(randomSessionArbitrary(), (session) => {
        for (const { event, state, viewer } of eachViewing(session.events)) {
          const visible = projectEvent(event, viewer, state);
          if (!visible) continue;
          const notice = noticeFor(visible, viewer, ctx);
          if (!notice) continue;
          notices++;
          expect(eventStreams(event, state)).toContain(viewer.role);
          // The steps' names are the only digits a notice may hold.
          expect(`${notice.title} ${notice.body}`.replace(/Step [1-3]\b/g, "")).not.toMatch(/\d/);
          if ("by" in event) expect(event.by).not.toBe(viewer.userId);
          expect(NOTICE_KINDS).toContain(notice.kind);
        }
      }),
      propertyParameters(150),
    );
    // The generator reaches notices at all (a test whose property never ran would prove nothing).
    expect(notices).toBeGreaterThan(100);
  });

  it("tells every member of a deal, on every channel outside the page", () => {
    let deals = 0;
    fc.assert(
      fc.property(randomSessionArbitrary(), (session) => {
        for (const { event, state, viewer } of eachViewing(session.events)) {
          if (event.type !== "DealMade") continue;
          deals++;
          const visible = projectEvent(event, viewer, state);
          expect(visible).not.toBeNull();
          const notice = noticeFor(visible as NonNullable<typeof visible>, viewer, ctx);
          expect(notice?.kind).toBe("deal");
          expect(notice?.body).toBe("A deal was made in Smith v. Acme.");
        }
      }),
      propertyParameters(150),
    );
    expect(deals).toBeGreaterThan(0);
    expect(NOTICE_CHANNELS.deal).toEqual({ mail: true, push: true });
  });

  it("tells the mediators of a knock and the other side of a request to consent, not the asking side", () => {
    const knock: SessionEvent = { type: "MediatorRequested", at: 1, side: "claimant", by: "c1" };
    expect(noticeFor(knock, { userId: "m1", role: "mediator" }, ctx)?.kind).toBe("knock");
    expect(noticeFor(knock, { userId: "c2", role: "claimant" }, ctx)).toBeNull();
    expect(noticeFor(knock, { userId: "c1", role: "mediator" }, ctx)).toBeNull();
    const request: SessionEvent = {
      type: "ProposalRequested",
      at: 1,
      requestId: "r",
      side: "claimant",
      by: "c1",
      consentBy: 2,
    };
    expect(noticeFor(request, { userId: "r1", role: "respondent" }, ctx)?.kind).toBe("consent");
    expect(noticeFor(request, { userId: "c2", role: "claimant" }, ctx)).toBeNull();
    expect(noticeFor(request, { userId: "m1", role: "mediator" }, ctx)).toBeNull();
  });

  it("tells a side the mediator came to its own caucus, and the other side nothing", () => {
    const moved: SessionEvent = {
      type: "MediatorLocationSet",
      at: 1,
      by: "m1",
      location: "with_respondent",
      until: null,
      note: null,
    };
    expect(noticeFor(moved, { userId: "r1", role: "respondent" }, ctx)?.title).toBe(
      "The mediator is with you now",
    );
    expect(noticeFor(moved, { userId: "c1", role: "claimant" }, ctx)).toBeNull();
  });
});
