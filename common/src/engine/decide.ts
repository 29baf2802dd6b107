// The engine's single entry point for commands: pure, deterministic, total. Time and randomness come in
// through the context; the answer is either the events to append or a refusal a person can act on.

import { setNumber, withdraw } from "./bidding";
import { dueEvents } from "./clock";
import type { Refused } from "./guards";
import { accept, refuse } from "./guards";
import {
  knock,
  postMessage,
  recordBracket,
  recordConveyed,
  setJointRoom,
  setMediatorLocation,
  updateLedgerItem,
} from "./mediation";
import {
  answerProposal,
  consentProposal,
  declineProposal,
  putMediatorProposal,
  requestProposal,
} from "./proposals";
import { cancel, createSession, issueInvitation, joinSession, revokeInvitation, updateSetup } from "./setup";
import { fold } from "./state";
import { approveTerms, editTerms, skipTerms } from "./terms";
import type { Command, CommandInput, Context, Decision, SessionState } from "./types";
import { checkCommandShape } from "./validate";

const ENDED_MESSAGE = "This session has ended, so nothing more can be changed.";

/**
 * Decides a command against the session's state (null before it exists).
 *
 * Deadlines are applied first: a command arriving after a deadline whose Tick has not come yet sees the session
 * as the deadline left it (a number sent after the Step 2 deadline is a Step 3 number, an answer after a
 * proposal's deadline finds no proposal). When the command is accepted, those deadline events come first in
 * the returned list; when it is refused, nothing is returned and the scheduler's Tick applies them.
 * Events that follow from the command (Step 2 opening when the last condition is met) come after it.
 */
export function decide(state: SessionState | null, input: CommandInput, ctx: Context): Decision {
  if (
    typeof ctx?.now !== "number" ||
    !Number.isSafeInteger(ctx.now) ||
    typeof ctx.random?.int !== "function"
  ) {
    return refuse(
      "INVALID_INPUT",
      "The server did not supply a valid clock reading or random source for this request.",
    );
  }
  // One schema per command (./commands.ts), the same the socket and REST parse with; amounts refused there name
  // the bound in the session's currency.
  const shape = checkCommandShape(input, state?.rules.currency);
  if (!shape.ok) return shape;
  const command = shape.command;
  if (command.type === "CreateSession") {
    return state === null ? createSession(command, ctx) : refuse("CONFLICT", "This session already exists.");
  }
  if (state === null) return refuse("SESSION_NOT_FOUND", "This session does not exist.");
  // A session's clock never runs backwards, even when commands reach it from nodes whose clocks differ a little.
  ctx = ctx.now < state.updatedAt ? { ...ctx, now: state.updatedAt } : ctx;
  // After the end the clock has nothing left to do; reading the session is the server's business.
  if (command.type === "Tick") return accept(dueEvents(state, ctx));

  const deadlines = dueEvents(state, ctx);
  const current = fold(state, deadlines);
  if (current.phase === "ended") return refuse("SESSION_ENDED", ENDED_MESSAGE);
  const decided = handle(current, command, ctx);
  if (!decided.ok) return decided;
  const consequences = dueEvents(fold(current, decided.events), ctx);
  return accept([...deadlines, ...decided.events, ...consequences]);
}

function handle(
  s: SessionState,
  c: Exclude<Command, { type: "CreateSession" | "Tick" }>,
  ctx: Context,
): Decision {
  switch (c.type) {
    case "UpdateSetup":
      return updateSetup(s, c, ctx);
    case "IssueInvitation":
      return issueInvitation(s, c, ctx);
    case "RevokeInvitation":
      return revokeInvitation(s, c, ctx);
    case "JoinSession":
      return joinSession(s, c, ctx);
    case "Cancel":
      return cancel(s, c, ctx);
    case "EditTerms":
      return editTerms(s, c, ctx);
    case "ApproveTerms":
      return approveTerms(s, c, ctx);
    case "SkipTerms":
      return skipTerms(s, c, ctx);
    case "SetNumber":
      return setNumber(s, c, ctx);
    case "Withdraw":
      return withdraw(s, c, ctx);
    case "RequestProposal":
      return requestProposal(s, c, ctx);
    case "ConsentProposal":
      return consentProposal(s, c, ctx);
    case "DeclineProposal":
      return declineProposal(s, c, ctx);
    case "AnswerProposal":
      return answerProposal(s, c, ctx);
    case "PutMediatorProposal":
      return putMediatorProposal(s, c, ctx);
    case "SetMediatorLocation":
      return setMediatorLocation(s, c, ctx);
    case "Knock":
      return knock(s, c, ctx);
    case "OpenJointRoom":
    case "CloseJointRoom":
      return setJointRoom(s, c, ctx);
    case "PostMessage":
      return postMessage(s, c, ctx);
    case "RecordConveyed":
      return recordConveyed(s, c, ctx);
    case "RecordBracket":
      return recordBracket(s, c, ctx);
    case "UpdateLedgerItem":
      return updateLedgerItem(s, c, ctx);
    default:
      return unknownCommand(c);
  }
}

// Unreachable after the shape check; kept so a new command type without a handler is refused, not thrown.
function unknownCommand(_: never): Refused {
  return refuse("INVALID_INPUT", "This kind of request is not known.");
}
