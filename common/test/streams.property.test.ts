// Property: a viewer's stream reveals nothing of what is hidden from it, its positions included. Two histories that
// differ only in events hidden from a viewer (the other side's side-only and caucus messages, its knocks, its
// reminders, its drafted brackets) give that viewer identical payloads: the same events at the same positions and
// the same snapshot. With the session's global version as the position, the inserted events would show as gaps.
//
// Reproduce a failure with the printed FC_SEED (and FC_RUNS).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Role, RoomId, SessionEvent, SessionState, Side } from "../src/engine";
import { audienceOf, evolve, replay } from "../src/engine";
import type { Viewer } from "../src/visibility";
import { eventStreams, projectEvent, projectStream, viewState } from "../src/visibility";
import {
  CLAIMANT_VIEWER,
  CREATOR,
  MEDIATOR,
  propertyParameters,
  RESPONDENT,
  randomSessionArbitrary,
} from "./engine/arbitrary";

const VIEWERS: Viewer[] = [
  { userId: CREATOR, role: "claimant" },
  { userId: CLAIMANT_VIEWER, role: "claimant" },
  { userId: RESPONDENT, role: "respondent" },
  { userId: MEDIATOR, role: "mediator" },
];
const MEMBER_OF: Record<Side, string> = { claimant: CREATOR, respondent: RESPONDENT };

/** An event of `side`'s own that `viewer` (not of that side, or a mediator for side-only kinds) must never see. */
function hiddenEvent(kind: number, side: Side, viewer: Role, at: number, id: string): SessionEvent | null {
  const by = MEMBER_OF[side];
  const room = (r: RoomId): SessionEvent => ({
    type: "MessagePosted",
    at,
    messageId: id,
    room: r,
    by,
    text: `hidden ${id}`,
    audience: audienceOf(r),
  });
  const others: Array<SessionEvent | null> = [
    room(`side:${side}`),
    viewer === "mediator" ? null : room(`caucus:${side}`),
    viewer === "mediator" ? null : { type: "MediatorRequested", at, side, by },
    { type: "ReminderDue", at, side, closesAt: at + 60_000, reminder: 0 },
    viewer === "mediator"
      ? null
      : {
          type: "LedgerItemRecorded",
          at,
          itemId: id,
          by,
          item: { kind: "bracket", from: side, ourAmount: 100_00, theirAmount: 200_00 },
          note: null,
          counters: null,
        },
  ];
  return others[kind % others.length] ?? null;
}

const insertionsArbitrary = fc.array(
  fc.record({ index: fc.nat(), kind: fc.nat(), side: fc.constantFrom<Side>("claimant", "respondent") }),
  { minLength: 1, maxLength: 8 },
);

describe("streams: positions are contiguous whatever was hidden", () => {
  it("inserting events hidden from a viewer changes nothing it receives, positions included", () => {
    fc.assert(
      fc.property(
        randomSessionArbitrary({ maxSteps: 40 }),
        insertionsArbitrary,
        fc.constantFrom(...VIEWERS),
        (session, insertions, viewer) => {
          const base = session.events;
          if (base.length < 2) return;
          const withHidden: SessionEvent[] = [...base];
          let inserted = 0;
          for (const [i, ins] of insertions.entries()) {
            // Never before SessionCreated; the hidden event happens at the time of the event it follows.
            const at = 1 + (ins.index % (withHidden.length - 1));
            const previous = withHidden[at - 1] as SessionEvent;
            if (viewer.role !== "mediator" && ins.side === viewer.role) continue;
            const ev = hiddenEvent(ins.kind, ins.side, viewer.role, previous.at, `hidden-${i}`);
            if (!ev) continue;
            withHidden.splice(at, 0, ev);
            inserted += 1;
          }
          if (inserted === 0) return;
          // The inserted events really are hidden from this viewer (else the property would say nothing).
          const plain = projectStream(base, viewer);
          const hidden = projectStream(withHidden, viewer);
          expect(hidden.stream).toEqual(plain.stream);
          expect(hidden.positions[viewer.role]).toBe(plain.positions[viewer.role]);
          // The global version did move: the old wire format would have shown the gap.
          expect(withHidden.length).toBeGreaterThan(base.length);
          const now = (base.at(-1) as SessionEvent).at;
          expect(viewState(replay(withHidden), viewer, now, hidden.positions[viewer.role])).toEqual(
            viewState(replay(base), viewer, now, plain.positions[viewer.role]),
          );
        },
      ),
      propertyParameters(200),
    );
  });

  it("a stream is numbered 1..n without gaps, and every member of a role receives the same stream", () => {
    fc.assert(
      fc.property(randomSessionArbitrary({ maxSteps: 60 }), (session) => {
        for (const viewer of VIEWERS) {
          const { stream, positions } = projectStream(session.events, viewer);
          expect(stream.map((e) => e.version)).toEqual(stream.map((_, i) => i + 1));
          expect(positions[viewer.role]).toBe(stream.length);
        }
        const claimants = VIEWERS.filter((v) => v.role === "claimant");
        expect(projectStream(session.events, claimants[0] as Viewer).stream).toEqual(
          projectStream(session.events, claimants[1] as Viewer).stream,
        );
      }),
      propertyParameters(150),
    );
  });

  it("eventStreams and projectEvent agree on who sees each event", () => {
    fc.assert(
      fc.property(randomSessionArbitrary({ maxSteps: 60 }), (session) => {
        let state: SessionState | null = null;
        for (const event of session.events) {
          state = evolve(state, event);
          const roles = eventStreams(event, state);
          for (const viewer of VIEWERS) {
            expect(projectEvent(event, viewer, state) !== null).toBe(roles.includes(viewer.role));
          }
        }
      }),
      propertyParameters(50),
    );
  });
});
