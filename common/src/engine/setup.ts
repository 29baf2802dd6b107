// Creating a session, changing its setup, bringing people in, and cancelling it before Step 2.

import type { SessionRules } from "../rules";
import { changeRules } from "../rules";
import type { CommandOf, Refused } from "./guards";
import { accept, asMember, refuse } from "./guards";
import type { Context, Decision, Role, SessionState, Side } from "./types";

// Lengths, ids and times are the command schemas' (./commands.ts): a command reaching a handler has passed them.
export { MAX_NAME_LENGTH, MAX_TERMS_LENGTH, MAX_TITLE_LENGTH } from "./commands";

export function createSession(c: CommandOf<"CreateSession">, ctx: Context): Decision {
  return accept([
    {
      type: "SessionCreated",
      at: ctx.now,
      sessionId: c.sessionId,
      title: c.title,
      createdBy: c.actor,
      creatorName: c.actorName,
      creatorRole: c.creatorRole,
      rules: c.rules,
      startAt: c.startAt,
      termsText: c.termsText,
    },
  ]);
}

function asCreatorInSetup(
  s: SessionState,
  actor: string,
  notCreator: string,
  notSetup: string,
): Refused | null {
  const found = asMember(s, actor);
  if (!found.ok) return found;
  if (s.createdBy !== actor) return refuse("NOT_CREATOR", notCreator);
  if (s.phase !== "setup") return refuse("WRONG_STEP", notSetup);
  return null;
}

/** The creator may change the rules, start and title until Step 2 opens. Rules given in part keep the rest. */
export function updateSetup(s: SessionState, c: CommandOf<"UpdateSetup">, ctx: Context): Decision {
  const denied = asCreatorInSetup(
    s,
    c.actor,
    "Only the session's creator can change its setup.",
    "The setup is fixed once Step 2 has opened.",
  );
  if (denied) return denied;
  if (c.rules === undefined && c.startAt === undefined && c.title === undefined) {
    return refuse("INVALID_INPUT", "The request changes nothing.");
  }
  let rules = s.rules;
  if (c.rules !== undefined) {
    const changed = changeRules(s.rules, c.rules);
    if (!changed.ok) return refuse("INVALID_RULES", changed.message);
    rules = changed.rules;
  }
  const startAt = c.startAt ?? s.startAt;
  // A side's approval or skip accepted the rules and start as they stood; changing either withdraws every one,
  // so Step 2 never opens (not even in this decision, with a start in the past) under rules a side has not
  // accepted. A title-only change (or one that sets the same rules and start) withdraws nothing.
  const changed = startAt !== s.startAt || !sameRules(rules, s.rules);
  return accept([
    {
      type: "SetupUpdated",
      at: ctx.now,
      by: c.actor,
      rules,
      startAt,
      title: c.title ?? s.title,
      approvalsWithdrawn: changed && hasAcceptances(s),
    },
  ]);
}

function sameRules(a: SessionRules, b: SessionRules): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof SessionRules>;
  return [...keys].every((key) => a[key] === b[key]);
}

/** Whether any side has approved or skipped in Step 1 (a closed Step 1 always has both). */
function hasAcceptances(s: SessionState): boolean {
  const { approvals, skipped, closed } = s.terms;
  return closed !== null || Object.keys(approvals).length > 0 || Object.values(skipped).some(Boolean);
}

export function cancel(s: SessionState, c: CommandOf<"Cancel">, ctx: Context): Decision {
  const denied = asCreatorInSetup(
    s,
    c.actor,
    "Only the session's creator can cancel it. A side can withdraw once Step 2 opens.",
    "The session can only be cancelled before Step 2 opens. A side can still withdraw.",
  );
  if (denied) return denied;
  return accept([{ type: "SessionEnded", at: ctx.now, outcome: "cancelled", side: null, by: c.actor }]);
}

/**
 * Whether a side has joined for the purpose of invitations: it has a member with bidding rights. A view-only
 * first member does not lock a side (RULES.md "Who takes part"): until a bidder joins, the creator and mediators
 * may still invite one to it.
 */
export function sideHasBidder(s: SessionState, side: Side): boolean {
  return Object.values(s.members).some((m) => m.role === side && m.canBid);
}

/**
 * Who may invite to a role. Mediators: the creator or a mediator. A side: until it has a member with bidding
 * rights, the creator or a mediator (to bring in its first bidder); once it has one, only its own members with
 * bidding rights, so nobody outside a side can place someone in it to read its number.
 */
function asInviter(s: SessionState, actor: string, role: Role): Refused | null {
  const found = asMember(s, actor);
  if (!found.ok) return found;
  const member = found.member;
  if (role !== "mediator" && sideHasBidder(s, role)) {
    if (member.role !== role) {
      return refuse(
        "WRONG_SIDE",
        `The ${role} side has joined: only its own members can invite more people to it.`,
      );
    }
    if (!member.canBid) {
      return refuse(
        "NO_BIDDING_RIGHTS",
        "Your invitation is view only, so you cannot invite people. Ask a member of your side with bidding rights.",
      );
    }
    return null;
  }
  if (s.createdBy !== actor && member.role !== "mediator") {
    return refuse("NOT_CREATOR", "Only the session's creator or a mediator can invite people.");
  }
  return null;
}

export function issueInvitation(s: SessionState, c: CommandOf<"IssueInvitation">, ctx: Context): Decision {
  const denied = asInviter(s, c.actor, c.role);
  if (denied) return denied;
  if (s.invitations[c.invitationId]) return refuse("CONFLICT", "An invitation with this id already exists.");
  if (!(c.expiresAt > ctx.now)) return refuse("INVALID_DEADLINE", "An invitation must expire in the future.");
  return accept([
    {
      type: "InvitationIssued",
      at: ctx.now,
      by: c.actor,
      invitationId: c.invitationId,
      role: c.role,
      // A mediator is a neutral and never holds a number, whatever the invitation asked for.
      canBid: c.role !== "mediator" && c.canBid,
      expiresAt: c.expiresAt,
    },
  ]);
}

export function revokeInvitation(s: SessionState, c: CommandOf<"RevokeInvitation">, ctx: Context): Decision {
  const invitation = s.invitations[c.invitationId];
  if (!invitation) return refuse("INVITE_INVALID", "There is no such invitation.");
  // Whoever issued an invitation may take it back, as may anyone who could issue it now.
  const denied = invitation.issuedBy === c.actor ? null : asInviter(s, c.actor, invitation.role);
  if (denied) return denied;
  if (invitation.revoked) return refuse("INVITE_INVALID", "This invitation was already revoked.");
  if (invitation.usedBy !== null) {
    return refuse("INVITE_USED", "This invitation has already been used, so it can no longer be revoked.");
  }
  return accept([{ type: "InvitationRevoked", at: ctx.now, by: c.actor, invitationId: c.invitationId }]);
}

export function joinSession(s: SessionState, c: CommandOf<"JoinSession">, ctx: Context): Decision {
  const invitation = s.invitations[c.invitationId];
  if (!invitation || invitation.revoked) {
    return refuse(
      "INVITE_INVALID",
      "This invitation is not valid. Ask the person who invited you for a new one.",
    );
  }
  if (s.members[c.actor]) return refuse("ALREADY_MEMBER", "You are already a member of this session.");
  if (invitation.usedBy !== null) {
    return refuse(
      "INVITE_USED",
      "This invitation has already been used. Ask the person who invited you for a new one.",
    );
  }
  if (ctx.now >= invitation.expiresAt) {
    return refuse(
      "INVITE_EXPIRED",
      "This invitation has expired. Ask the person who invited you for a new one.",
    );
  }
  const issuer = s.members[invitation.issuedBy];
  if (
    invitation.role !== "mediator" &&
    sideHasBidder(s, invitation.role) &&
    issuer?.role !== invitation.role
  ) {
    // An outsider's invitation, issued to bring in the side's first bidder; the side has one since. A view-only
    // member joining does not void it.
    return refuse(
      "INVITE_INVALID",
      `The ${invitation.role} side has joined since this invitation was made. Ask a member of that side for an invitation.`,
    );
  }
  return accept([
    {
      type: "MemberJoined",
      at: ctx.now,
      userId: c.actor,
      name: c.actorName,
      role: invitation.role,
      canBid: invitation.canBid,
      invitationId: c.invitationId,
    },
  ]);
}
