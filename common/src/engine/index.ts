// The negotiation engine: decide (command -> events or refusal), evolve/replay (events -> state), deadlines.

export { biddingPaused, changesLeft, nextChangeAllowedAt } from "./bidding";
export { dueEvents } from "./clock";
export {
  AMOUNT_FIELDS,
  COMMAND_SCHEMAS,
  commandSchema,
  MAX_ID_LENGTH,
  MAX_MESSAGE_LENGTH,
  MAX_NAME_LENGTH,
  MAX_NOTE_LENGTH,
  MAX_TERMS_LENGTH,
  MAX_TITLE_LENGTH,
  TEXT_LIMITS,
} from "./commands";
export { nextDeadline, openDeadlines, readyForStep2 } from "./deadlines";
export { decide } from "./decide";
export { bracketPositionIds, LEDGER_TRANSITIONS } from "./mediation";
export { nextProposalRequestAt } from "./proposals";
export { type Audience, audienceOf } from "./rooms";
export { sideHasBidder } from "./setup";
export { evolve, Folding, fold, replay } from "./state";
export * from "./types";
export { checkCommandShape, commandRefusal } from "./validate";
