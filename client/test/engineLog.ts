// Session logs driven through the engine's own `decide`, as the server drives it: every event here is one the
// server could really commit, in the order it would commit them (deadline events included).
import {
  type Command,
  decide,
  evolve,
  type Random,
  replay,
  type SessionEvent,
  type SessionState,
  seededRandom,
} from "@backchannel/common";
import { openedSession, RULES, T0, USERS } from "./fixtures";

/** A command as a member sends it: the server fills in `actor`. */
type WithoutActor<C> = C extends { actor: string } ? Omit<C, "actor"> : never;
type Act = WithoutActor<Command>;

/** A log that starts as fixtures' openedSession (Step 2 open) and grows by engine decisions. */
export class EngineLog {
  readonly events: SessionEvent[] = openedSession();
  /** index of the first event after openedSession */
  readonly opened = this.events.length;
  private state: SessionState = replay(this.events);
  private random: Random = seededRandom(7);
  now = this.events.at(-1)!.at;

  /** `who` runs `command` `ms` after the previous one; it must be accepted. Returns the events it appended. */
  run(who: keyof typeof USERS, command: Act, ms = 1_000): SessionEvent[] {
    this.now += ms;
    const full = { ...command, actor: USERS[who] } as Command;
    const decision = decide(this.state, full, { now: this.now, random: this.random });
    if (!decision.ok) throw new Error(`${command.type} refused: ${decision.code} ${decision.message}`);
    for (const event of decision.events) {
      this.state = evolve(this.state, event);
      this.events.push(event);
    }
    return decision.events;
  }

  /** The clock reaches `at` and the scheduler ticks. */
  tickAt(at: number): SessionEvent[] {
    this.now = at;
    const decision = decide(this.state, { type: "Tick" }, { now: at, random: this.random });
    if (!decision.ok) throw new Error(`Tick refused: ${decision.code}`);
    for (const event of decision.events) {
      this.state = evolve(this.state, event);
      this.events.push(event);
    }
    return decision.events;
  }
}

/**
 * Step 3 of a mediation day in which the claimant acts where the respondent cannot see (and partly where the
 * mediator cannot either): a side-only message, a caucus message, a knock, a bracket drafted with the mediator,
 * and its answer to the mediator's proposal. The others' visible moves are interleaved.
 */
export function claimantActsUnseen(): EngineLog {
  const log = new EngineLog();
  log.run("claimant", { type: "SetNumber", amount: 9_137_251 });
  log.run("respondent", { type: "SetNumber", amount: 4_086_373 });
  log.run("claimant", {
    type: "PostMessage",
    messageId: "c-side-1",
    room: "side:claimant",
    text: "Our floor stays where it is",
  });
  log.tickAt(T0 + RULES.step2DurationMs); // no overlap: Step 2 closes, Step 3 opens
  log.run("claimant", { type: "Knock" });
  log.run("claimant", {
    type: "PostMessage",
    messageId: "c-caucus-1",
    room: "caucus:claimant",
    text: "We can move a little",
  });
  log.run("mediator", {
    type: "RecordBracket",
    itemId: "b-1",
    from: "claimant",
    ourAmount: 8_000_000,
    theirAmount: 5_000_000,
    note: null,
    counters: null,
  });
  log.run("mediator", { type: "OpenJointRoom" });
  log.run("mediator", {
    type: "PutMediatorProposal",
    proposalId: "mp-1",
    amount: 6_500_000,
    answerBy: log.now + 600_000,
  });
  log.run("claimant", { type: "AnswerProposal", proposalId: "mp-1", accept: false });
  log.run("claimant", {
    type: "PostMessage",
    messageId: "c-side-2",
    room: "side:claimant",
    text: "Declined it; say nothing",
  });
  log.run("respondent", {
    type: "PostMessage",
    messageId: "r-joint-1",
    room: "joint",
    text: "Ready to talk",
  });
  log.run("respondent", { type: "AnswerProposal", proposalId: "mp-1", accept: true });
  return log;
}

/** Overlapping numbers in Step 2: at its deadline the engine makes the deal and ends the session. */
export function dealAtStep2(): EngineLog {
  const log = new EngineLog();
  log.run("claimant", { type: "SetNumber", amount: 5_000_000 });
  log.run("respondent", { type: "SetNumber", amount: 6_000_000 });
  log.tickAt(T0 + RULES.step2DurationMs);
  return log;
}
