import { describe, expect, it } from "vitest";
import { phaseDeadline, statusLine, waitingFor } from "../src/lib/deadline";
import { phaseHeadline } from "../src/lib/words";
import { openedSession, snapshot, T0 } from "./fixtures";

describe("the header's status line", () => {
  it("Step 2: the step in words and the countdown to its deadline", () => {
    const view = snapshot(openedSession(), "claimant");
    const now = T0 + 60_000 - (1 * 3600 + 42 * 60 + 10) * 1000;
    const deadline = phaseDeadline(view, now);
    expect(deadline).toEqual({ kind: "step2-close", verb: "closes in", at: T0 + 60_000 });
    expect(statusLine(phaseHeadline(view).title, deadline, now)).toBe(
      "Step 2 — sealed numbers — closes in 1:42:10",
    );
  });

  it("setup: lists what Step 2 still waits for, and counts down only when the start time is all that is left", () => {
    const created = openedSession().slice(0, 1);
    const view = { ...snapshot(created, "claimant"), startAt: T0 + 3_600_000 };
    expect(waitingFor(view, T0, () => "3:00 PM")).toEqual([
      "the respondent side to join",
      "both sides to approve the same terms, or both to choose “settle later”",
      "the start time (3:00 PM)",
    ]);
    expect(phaseDeadline(view, T0)).toBeNull();

    const ready = { ...snapshot(openedSession().slice(0, 8), "claimant"), startAt: T0 + 3_600_000 };
    expect(ready.phase).toBe("setup");
    expect(waitingFor(ready, T0, () => "3:00 PM")).toEqual(["the start time (3:00 PM)"]);
    expect(statusLine(phaseHeadline(ready).title, phaseDeadline(ready, T0), T0)).toBe(
      "Step 1 done — waiting for Step 2 — opens in 1:00:00",
    );
  });

  it("no countdown once the session has ended", () => {
    const view = {
      ...snapshot(openedSession(), "mediator"),
      phase: "ended" as const,
      outcome: "expired" as const,
    };
    expect(phaseDeadline(view, T0)).toBeNull();
    expect(phaseHeadline(view).title).toBe("Ended — time ran out with no deal");
  });
});
