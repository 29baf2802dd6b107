// A scenario builder for engine tests: drives decide + evolve with a fake clock and seeded randomness,
// and keeps the event log so tests can assert on what a decision appended.

import type {
  Command,
  Decision,
  EventOf,
  EventType,
  Role,
  SessionEvent,
  SessionState,
  Side,
} from "../../src/engine";
import { decide, evolve, openDeadlines } from "../../src/engine";
import type { Random } from "../../src/random";
import { seededRandom } from "../../src/random";
import type { SessionRules } from "../../src/rules";
import { DEFAULT_RULES } from "../../src/rules";

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** A fixed start far from zero, so times never look like amounts or versions. */
export const T0 = Date.UTC(2027, 0, 4, 9, 0, 0);

/** The cast of a typical session. */
export const CLAIMANT = "claimant-attorney";
export const CLAIMANT_CLIENT = "claimant-client"; // view only
export const RESPONDENT = "respondent-attorney";
export const ADJUSTER = "respondent-adjuster"; // a second bidding member of the respondent side
export const MEDIATOR = "mediator";
export const OUTSIDER = "outsider";

type Refusal = Extract<Decision, { ok: false }>;

export class Scenario {
  state: SessionState | null = null;
  readonly log: SessionEvent[] = [];
  now: number;
  random: Random;

  constructor(options: { now?: number; seed?: number } = {}) {
    this.now = options.now ?? T0;
    this.random = seededRandom(options.seed ?? 1);
  }

  get s(): SessionState {
    if (!this.state) throw new Error("no session yet");
    return this.state;
  }

  advance(ms: number): this {
    this.now += ms;
    return this;
  }

  at(time: number): this {
    this.now = time;
    return this;
  }

  /** Decides and, when accepted, appends and applies the events. */
  run(command: Command): Decision {
    const decision = decide(this.state, command, { now: this.now, random: this.random });
    if (decision.ok) {
      for (const event of decision.events) {
        this.state = evolve(this.state, event);
        this.log.push(event);
      }
    }
    return decision;
  }

  /** Runs a command that must be accepted; returns its events. */
  ok(command: Command): SessionEvent[] {
    const decision = this.run(command);
    if (!decision.ok) throw new Error(`${command.type} refused: ${decision.code} ${decision.message}`);
    return decision.events;
  }

  /** Runs a command that must be refused; returns the refusal. The state must not change. */
  refused(command: Command): Refusal {
    const before = this.state;
    const decision = this.run(command);
    if (decision.ok)
      throw new Error(`${command.type} was accepted: ${decision.events.map((e) => e.type).join(", ")}`);
    if (this.state !== before) throw new Error("a refusal changed the state");
    return decision;
  }

  tick(): SessionEvent[] {
    return this.ok({ type: "Tick" });
  }

  /** Moves the clock to `time` and ticks. */
  tickAt(time: number): SessionEvent[] {
    return this.at(time).tick();
  }

  /** Ticks at the next open deadline. */
  tickNext(): SessionEvent[] {
    const next = openDeadlines(this.state)[0];
    if (!next) throw new Error("no open deadline");
    return this.tickAt(Math.max(this.now, next.at));
  }

  eventsOf<T extends EventType>(type: T): EventOf<T>[] {
    return this.log.filter((e): e is EventOf<T> => e.type === type);
  }

  // ---------------------------------------------------------------- building a session

  create(overrides: Partial<Extract<Command, { type: "CreateSession" }>> = {}): this {
    this.ok({
      type: "CreateSession",
      actor: CLAIMANT,
      actorName: "Claire Attorney",
      sessionId: "session-1",
      title: "Smith v. Jones",
      creatorRole: "claimant",
      rules: { ...DEFAULT_RULES },
      startAt: this.now,
      termsText: "Full release of all claims; confidentiality; payment within 30 days.",
      ...overrides,
    });
    return this;
  }

  invite(invitationId: string, role: Role, canBid = true, by = CLAIMANT): this {
    this.ok({
      type: "IssueInvitation",
      actor: by,
      invitationId,
      role,
      canBid,
      expiresAt: this.now + 7 * DAY,
    });
    return this;
  }

  join(userId: string, invitationId: string): SessionEvent[] {
    return this.ok({ type: "JoinSession", actor: userId, actorName: userId, invitationId });
  }

  /** Invites and joins the respondent, the mediator, a view-only claimant client and a second respondent bidder. */
  cast(options: { mediator?: boolean; extras?: boolean } = {}): this {
    this.invite("inv-respondent", "respondent").join(RESPONDENT, "inv-respondent");
    if (options.mediator ?? true) {
      this.invite("inv-mediator", "mediator", false).join(MEDIATOR, "inv-mediator");
    }
    if (options.extras ?? true) {
      this.invite("inv-client", "claimant", false).join(CLAIMANT_CLIENT, "inv-client");
      // Once the respondent side has joined, only its own members may invite more people to it.
      this.invite("inv-adjuster", "respondent", true, RESPONDENT).join(ADJUSTER, "inv-adjuster");
    }
    return this;
  }

  skipTerms(): SessionEvent[] {
    return [
      ...this.ok({ type: "SkipTerms", actor: CLAIMANT }),
      ...this.ok({ type: "SkipTerms", actor: RESPONDENT }),
    ];
  }

  /** A session in Step 2: created with `rules`, everyone joined, Step 1 skipped, start time now. */
  static inStep2(
    rules: Partial<SessionRules> = {},
    options: { seed?: number; mediator?: boolean } = {},
  ): Scenario {
    const scenario = new Scenario({ seed: options.seed ?? 1 });
    scenario.create({ rules: { ...DEFAULT_RULES, ...rules } }).cast({ mediator: options.mediator ?? true });
    scenario.skipTerms();
    if (scenario.s.phase !== "step2") throw new Error("Step 2 did not open");
    return scenario;
  }

  /** A session in Step 3 after a Step 2 without a deal: the claimant demands `demand`, the respondent offers `offer`. */
  static inStep3(
    demand: number | null,
    offer: number | null,
    rules: Partial<SessionRules> = {},
    options: { seed?: number; mediator?: boolean } = {},
  ): Scenario {
    const scenario = Scenario.inStep2(rules, options);
    if (demand !== null) scenario.ok(setNumber(CLAIMANT, demand));
    if (offer !== null) scenario.ok(setNumber(RESPONDENT, offer));
    scenario.tickAt(scenario.s.step2ClosesAt!);
    if (scenario.s.phase !== "step3") throw new Error("Step 3 did not open");
    return scenario;
  }
}

// ---------------------------------------------------------------- command shorthands

export const setNumber = (actor: string, amount: number): Command => ({ type: "SetNumber", actor, amount });
export const answer = (actor: string, proposalId: string, accept: boolean): Command => ({
  type: "AnswerProposal",
  actor,
  proposalId,
  accept,
});
export const requestProposal = (actor: string, requestId = "request-1"): Command => ({
  type: "RequestProposal",
  actor,
  requestId,
});
export const consent = (actor: string, requestId = "request-1"): Command => ({
  type: "ConsentProposal",
  actor,
  requestId,
});
export const decline = (actor: string, requestId = "request-1"): Command => ({
  type: "DeclineProposal",
  actor,
  requestId,
});

export function sideOfUser(userId: string): Side | null {
  if (userId === CLAIMANT || userId === CLAIMANT_CLIENT) return "claimant";
  if (userId === RESPONDENT || userId === ADJUSTER) return "respondent";
  return null;
}

export function types(events: readonly SessionEvent[]): EventType[] {
  return events.map((e) => e.type);
}
