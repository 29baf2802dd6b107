// Who may do what: the membership and role checks every command starts with, and their refusals.

import type { ErrorCode } from "../errors";
import type { Command, CommandType, Decision, Member, SessionEvent, SessionState, Side } from "./types";

export type Refused = Extract<Decision, { ok: false }>;
export type CommandOf<T extends CommandType> = Extract<Command, { type: T }>;

export function refuse(code: ErrorCode, message: string, retryAt?: number): Refused {
  return retryAt === undefined ? { ok: false, code, message } : { ok: false, code, message, retryAt };
}

export function accept(events: SessionEvent[]): Decision {
  return { ok: true, events };
}

export const NOT_A_MEMBER_MESSAGE =
  "You are not a member of this session. Ask its creator or mediator for an invitation.";

export function asMember(s: SessionState, actor: string): { ok: true; member: Member } | Refused {
  const member = s.members[actor];
  return member ? { ok: true, member } : refuse("NOT_A_MEMBER", NOT_A_MEMBER_MESSAGE);
}

/** A member of a side, with or without bidding rights. */
export function asSideMember(
  s: SessionState,
  actor: string,
  mediatorMessage: string,
): { ok: true; member: Member; side: Side } | Refused {
  const found = asMember(s, actor);
  if (!found.ok) return found;
  const { member } = found;
  if (member.role === "mediator") return refuse("WRONG_ROLE", mediatorMessage);
  return { ok: true, member, side: member.role };
}

/** A member of a side who may act for it: change its number, approve, answer, withdraw. */
export function asBidder(
  s: SessionState,
  actor: string,
  action: string,
  mediatorMessage: string,
): { ok: true; member: Member; side: Side } | Refused {
  const found = asSideMember(s, actor, mediatorMessage);
  if (!found.ok) return found;
  if (!found.member.canBid) {
    return refuse(
      "NO_BIDDING_RIGHTS",
      `Your invitation is view only, so you cannot ${action}. Ask a member of your side with bidding rights.`,
    );
  }
  return found;
}

export function asMediator(
  s: SessionState,
  actor: string,
  message: string,
): { ok: true; member: Member } | Refused {
  const found = asMember(s, actor);
  if (!found.ok) return found;
  return found.member.role === "mediator" ? found : refuse("WRONG_ROLE", message);
}

/** A time in refusal messages: "2027-01-04 09:00 UTC". */
export function utc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
