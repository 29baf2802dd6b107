// Property: a home-page line (dashboardEntry) never says more than the viewer's own stream. An event the viewer's
// role does not see leaves its line exactly as it was (so neither a hidden act nor its timing shows there); a side's
// line shows only its own knock; an ended session says how it ended and asks nothing of anyone.
//
// Reproduce a failure with the printed FC_SEED (and FC_RUNS).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dashboardEntry, dashboardEntrySchema, dashboardOrder, NEEDS } from "../src/dashboard";
import { evolve, type SessionState } from "../src/engine";
import { eventStreams, viewState } from "../src/visibility";
import { propertyParameters, randomSessionArbitrary } from "./engine/arbitrary";

describe("dashboardEntry", () => {
  it("moves only with the viewer's own stream, shows a side only its own knock, and is what the schema says", () => {
    const seen = { hidden: 0, knocks: 0, ended: 0, needs: new Set<string>() };
    fc.assert(
      fc.property(randomSessionArbitrary(), (session) => {
        let state: SessionState | null = null;
        // Each role's stream position, counted as projectStream counts it.
        const positions = { claimant: 0, respondent: 0, mediator: 0 };
        for (const event of session.events) {
          const before: SessionState | null = state;
          state = evolve(state, event);
          const streams = eventStreams(event, state);
          for (const role of streams) positions[role] += 1;
          if (!before) continue;
          const now = event.at;
          for (const [userId, member] of Object.entries(state.members)) {
            if (!before.members[userId]) continue;
            const viewer = { userId, role: member.role };
            const position = positions[member.role];
            const after = dashboardEntry(viewState(state, viewer, now, position), now);
            expect(dashboardEntrySchema.safeParse(after).success).toBe(true);
            for (const n of after.needs) seen.needs.add(n);
            if (!streams.includes(member.role)) {
              seen.hidden++;
              const earlier = dashboardEntry(viewState(before, viewer, now, position), now);
              expect(after).toEqual(earlier);
            }
            if (member.role !== "mediator") {
              expect(after.knocks.every((k) => k.side === member.role)).toBe(true);
              expect(after.needs).not.toContain("knock");
            } else if (after.knocks.length > 0) {
              seen.knocks++;
              expect(after.needs[0]).toBe("knock");
            }
            if (state.phase === "ended") {
              seen.ended++;
              expect(after.status).toBe(state.outcome);
              expect(after.needs).toEqual([]);
              expect(after.nextDeadline).toBeNull();
            }
            // No amount is on a line: the only numbers are times, positions and ids.
            expect(JSON.stringify(after)).not.toMatch(/"amount"/);
          }
        }
      }),
      propertyParameters(120),
    );
    // The generator reaches every case the property speaks of (a property that never ran proves nothing).
    expect(seen.hidden).toBeGreaterThan(100);
    expect(seen.knocks).toBeGreaterThan(0);
    expect(seen.ended).toBeGreaterThan(0);
    expect([...seen.needs].sort()).toEqual(expect.arrayContaining(["knock", "number", "terms"]));
  });

  it("orders what needs the viewer first, then the nearest deadline, then the latest change", () => {
    const line = (id: string, over: Partial<ReturnType<typeof dashboardEntry>>) =>
      ({
        id,
        title: id,
        role: "mediator",
        canBid: false,
        version: 1,
        phase: "step2",
        status: "step2",
        nextDeadline: null,
        knocks: [],
        proposal: null,
        needs: [],
        endedAt: null,
        updatedAt: 0,
        ...over,
      }) as ReturnType<typeof dashboardEntry>;
    const lines = [
      line("ended-new", { phase: "ended", status: "deal", updatedAt: 50 }),
      line("late", { nextDeadline: { kind: "step2-close", verb: "closes in", at: 900 } }),
      line("invite", { needs: ["invite"] }),
      line("soon", { nextDeadline: { kind: "step2-close", verb: "closes in", at: 100 } }),
      line("knock", { needs: ["knock"] }),
      line("ended-old", { phase: "ended", status: "withdrawn", updatedAt: 10 }),
    ];
    expect(lines.sort(dashboardOrder).map((l) => l.id)).toEqual([
      "knock",
      "invite",
      "soon",
      "late",
      "ended-new",
      "ended-old",
    ]);
    expect(NEEDS[0]).toBe("knock");
  });
});
