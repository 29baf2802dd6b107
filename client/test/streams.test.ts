// Each role's stream is numbered 1, 2, 3, ... over the events it may see: what the other side does where this
// viewer cannot look moves no version, so live pushes arrive without gaps and nothing needs a sync.
import type { Role } from "@backchannel/common";
import { describe, expect, it } from "vitest";
import { createSessionData, receivePush, type SessionData } from "../src/session/reduce";
import { claimantActsUnseen } from "./engineLog";
import { positionOf, pushFor, snapshot } from "./fixtures";

describe("a viewer's stream has no gap for what the other side does unseen", () => {
  const log = claimantActsUnseen();
  const { events, opened } = log;
  const hiddenFrom = (role: Role) =>
    events.slice(opened).filter((_, k) => pushFor(events, opened + k, role) === null);

  it("the log really holds claimant moves that the respondent and the mediator do not see", () => {
    const types = (role: Role) => hiddenFrom(role).map((e) => e.type);
    expect(types("respondent")).toEqual([
      "MessagePosted", // side-only
      "MediatorRequested",
      "MessagePosted", // caucus
      "LedgerItemRecorded", // a bracket in draft
      "ProposalAnswered",
      "MessagePosted", // side-only
    ]);
    // Double-blind: the mediator sees neither side's answer.
    expect(types("mediator")).toEqual([
      "MessagePosted",
      "ProposalAnswered",
      "MessagePosted",
      "ProposalAnswered",
    ]);
    expect(types("claimant")).toEqual(["ProposalAnswered"]); // the respondent's answer
  });

  for (const role of ["respondent", "mediator", "claimant"] as const) {
    it(`${role}: pushes carry consecutive versions and all apply without a sync`, () => {
      const start = positionOf(events.slice(0, opened), role);
      let data: SessionData = createSessionData(snapshot(events.slice(0, opened), role), start);
      const versions: number[] = [];
      for (let i = opened; i < events.length; i++) {
        const push = pushFor(events, i, role);
        if (!push) continue;
        versions.push(push.version);
        expect(push.head).toMatchObject({ stream: role, position: push.version });
        const outcome = receivePush(data, push);
        expect(outcome.kind, `${events[i]!.type} (event ${i}) for the ${role}`).toBe("applied");
        if (outcome.kind === "applied") data = outcome.data;
      }
      const end = positionOf(events, role);
      expect(versions).toEqual(Array.from({ length: end - start }, (_, k) => start + 1 + k));
      expect(end - start).toBe(events.length - opened - hiddenFrom(role).length);
      expect(data.version).toBe(end);
      // The pushes alone bring the view where the server's snapshot is.
      const server = snapshot(events, role);
      expect(data.view.version).toBe(server.version);
      expect(data.view.phase).toBe(server.phase);
      expect(data.view.messages).toEqual(server.messages);
      expect(data.view.ledger).toEqual(server.ledger);
      expect(data.view.proposal).toEqual(server.proposal);
      expect(data.view.jointRoomOpen).toBe(true);
    });
  }
});
