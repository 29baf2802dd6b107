// Replaying a log (fold, and the server's replay through Folding) appends messages in place to a list the fold made
// itself: the same states as evolve event by event, nothing it was given or has handed out ever changes, and a long
// log replays in time linear in its length (a copy of the list per message was quadratic: 2.6 s at 20,000).
import { describe, expect, it } from "vitest";
import { type EventOf, evolve, Folding, fold, type SessionEvent, type SessionState } from "../../src/engine";
import { CLAIMANT, MEDIATOR, RESPONDENT, Scenario, setNumber } from "./builder";

/** A cast session with messages posted between other events (numbers, a room change), and its log. */
function chattySession(): Scenario {
  const s = new Scenario().create().cast();
  const post = (actor: string, room: string, i: number) =>
    s.ok({ type: "PostMessage", actor, messageId: `m${i}`, room, text: `message ${i}` } as never);
  const speakers = [
    [CLAIMANT, "side:claimant"],
    [RESPONDENT, "side:respondent"],
    [MEDIATOR, "caucus:claimant"],
  ] as const;
  for (let i = 0; i < 40; i++) {
    const [actor, room] = speakers[i % 3] as (typeof speakers)[number];
    post(actor, room, i);
    if (i === 10) s.skipTerms();
    if (i === 20) s.ok(setNumber(CLAIMANT, 5_000_000));
    s.advance(1_000);
  }
  return s;
}

/** evolve, one event after another: what a fold must equal. */
const stepByStep = (from: SessionState | null, events: readonly SessionEvent[]) =>
  events.reduce<SessionState | null>((state, e) => evolve(state, e), from);

describe("Folding", () => {
  const s = chattySession();
  const log = s.log;

  it("replays a log into the state evolve reaches event by event, from nothing and from any point", () => {
    expect(s.s.messages.length).toBe(40);
    expect(fold(null, log)).toEqual(stepByStep(null, log));
    expect(fold(null, log)).toEqual(s.s);
    for (const cut of [1, 2, 7, 20, log.length - 1]) {
      const from = stepByStep(null, log.slice(0, cut)) as SessionState;
      expect(fold(from, log.slice(cut))).toEqual(s.s);
    }
  });

  it("never changes the state it starts from, nor a state it handed out before going on", () => {
    const from = stepByStep(null, log.slice(0, 12)) as SessionState;
    const fromMessages = from.messages.length;
    const folding = new Folding(from);
    const handedOut: Array<{ state: SessionState; messages: number }> = [];
    for (const [i, event] of log.slice(12).entries()) {
      folding.apply(event);
      if (i % 5 === 0) {
        const state = folding.state as SessionState;
        handedOut.push({ state, messages: state.messages.length });
      }
    }
    expect(folding.state).toEqual(s.s);
    expect(from.messages.length).toBe(fromMessages);
    for (const h of handedOut) expect(h.state.messages.length).toBe(h.messages);
  });

  it("replays 50,000 messages in time linear in the log", { timeout: 5_000 }, () => {
    // A copy of the list per message took about 16 s here for this log; in place it is tens of milliseconds. The
    // timeout is only a hang guard.
    const template = log.find((e) => e.type === "MessagePosted") as EventOf<"MessagePosted">;
    const messages = Array.from({ length: 50_000 }, (_, i) => ({
      ...template,
      messageId: `bulk-${i}`,
      text: `bulk ${i}`,
    }));
    const state = fold(null, [...log, ...messages]);
    expect(state?.messages.length).toBe(50_040);
    expect(state?.messages.at(-1)?.messageId).toBe("bulk-49999");
    expect(state?.version).toBe(s.s.version + 50_000);
  });
});
