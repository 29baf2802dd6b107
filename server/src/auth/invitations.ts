// Invitations: single-use random tokens bound to a session and a role, with an expiry. Only the SHA-256 of a
// token is stored, so a copy of the database cannot be used to join a session.

import { createHash, randomBytes, randomUUID } from "node:crypto";
import { errors, type Refusal } from "@backchannel/common";
import type { Queryable } from "../store/db";

export type InvitationRole = "claimant" | "respondent" | "mediator";
const INVITATION_ROLES: readonly InvitationRole[] = ["claimant", "respondent", "mediator"];

export type InvitationFailureCode = "INVITE_INVALID" | "INVITE_USED" | "INVITE_EXPIRED";
export type InvitationFailure = { ok: false; code: InvitationFailureCode; message: string };

export interface Invitation {
  id: string;
  sessionId: string;
  role: InvitationRole;
  canBid: boolean;
  email: string | null;
  /** times are epoch milliseconds */
  expiresAt: number;
  createdBy: string;
  createdAt: number;
  usedBy: string | null;
  usedAt: number | null;
}

const TOKEN_BYTES = 32;
// 32 bytes in base64url is 43 characters; anything else was never issued, so it skips the database.
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

const REFUSALS = {
  INVITE_INVALID: errors.inviteInvalid,
  INVITE_USED: errors.inviteUsed,
  INVITE_EXPIRED: errors.inviteExpired,
} satisfies Record<InvitationFailureCode, () => Refusal>;

function failure(code: InvitationFailureCode): InvitationFailure {
  return { ok: false, code, message: REFUSALS[code]().message };
}

export function hashInvitationToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function millis(value: unknown): number {
  return value instanceof Date ? value.getTime() : new Date(value as string).getTime();
}

interface InvitationRow {
  id: string;
  session_id: string;
  role: InvitationRole;
  can_bid: boolean;
  email: string | null;
  expires_at: Date | string;
  created_by: string;
  created_at: Date | string;
  used_by: string | null;
  used_at: Date | string | null;
}

const COLUMNS = "id, session_id, role, can_bid, email, expires_at, created_by, created_at, used_by, used_at";

function toInvitation(row: InvitationRow): Invitation {
  return {
    id: row.id,
    sessionId: row.session_id,
    role: row.role,
    canBid: row.can_bid,
    email: row.email,
    expiresAt: millis(row.expires_at),
    createdBy: row.created_by,
    createdAt: millis(row.created_at),
    usedBy: row.used_by,
    usedAt: row.used_at === null ? null : millis(row.used_at),
  };
}

export interface IssueInvitationInput {
  /** lets the caller use the id it already gave the engine's IssueInvitation command */
  id?: string;
  sessionId: string;
  role: InvitationRole;
  canBid: boolean;
  email?: string;
  ttlMs: number;
  createdBy: string;
  /** epoch milliseconds */
  now: number;
}

/** The token is returned once, here, and never stored: show it (or mail it) and forget it. */
export async function issueInvitation(
  q: Queryable,
  input: IssueInvitationInput,
): Promise<{ id: string; token: string; expiresAt: number }> {
  // Programming errors, not user input: the API schemas validate requests before they get here.
  if (!INVITATION_ROLES.includes(input.role)) throw new RangeError(`unknown invitation role ${input.role}`);
  if (input.role === "mediator" && input.canBid) throw new RangeError("a mediator invitation cannot bid");
  if (!Number.isFinite(input.ttlMs) || input.ttlMs <= 0) throw new RangeError("ttlMs must be positive");

  const id = input.id ?? randomUUID();
  const token = randomBytes(TOKEN_BYTES).toString("base64url");
  const expiresAt = input.now + input.ttlMs;
  const email = input.email?.trim().toLowerCase() || null;
  await q.query(
    `INSERT INTO invitations (id, session_id, token_hash, role, can_bid, email, expires_at, created_by, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, $8, $9::timestamptz)`,
    [
      id,
      input.sessionId,
      hashInvitationToken(token),
      input.role,
      input.canBid,
      email,
      iso(expiresAt),
      input.createdBy,
      iso(input.now),
    ],
  );
  return { id, token, expiresAt };
}

export type RedeemResult =
  | { ok: true; invitation: { id: string; sessionId: string; role: InvitationRole; canBid: boolean } }
  | InvitationFailure;

/**
 * Marks the invitation used by userId, atomically: of two concurrent redemptions exactly one wins.
 * Call it inside the transaction that adds the member, so a refused join leaves the invitation unused.
 */
export async function redeemInvitation(
  q: Queryable,
  input: { token: string; userId: string; now: number },
): Promise<RedeemResult> {
  if (!TOKEN_SHAPE.test(input.token)) return failure("INVITE_INVALID");
  const tokenHash = hashInvitationToken(input.token);
  const now = iso(input.now);
  const { rows } = await q.query<Pick<InvitationRow, "id" | "session_id" | "role" | "can_bid">>(
    `UPDATE invitations SET used_by = $2, used_at = $3::timestamptz
     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $3::timestamptz
     RETURNING id, session_id, role, can_bid`,
    [tokenHash, input.userId, now],
  );
  const won = rows[0];
  if (won) {
    return {
      ok: true,
      invitation: { id: won.id, sessionId: won.session_id, role: won.role, canBid: won.can_bid },
    };
  }
  // Nothing updated: say why, in the order a person can act on (used beats expired).
  const { rows: found } = await q.query<{ used: boolean }>(
    "SELECT used_at IS NOT NULL AS used FROM invitations WHERE token_hash = $1",
    [tokenHash],
  );
  const row = found[0];
  if (!row) return failure("INVITE_INVALID");
  return failure(row.used ? "INVITE_USED" : "INVITE_EXPIRED");
}

export type PeekResult =
  | {
      ok: true;
      invitation: {
        sessionId: string;
        title: string;
        role: InvitationRole;
        canBid: boolean;
        expiresAt: number;
      };
    }
  | InvitationFailure;

/** What an invitation offers, for the page shown before sign-in. Changes nothing. */
export async function peekInvitation(
  q: Queryable,
  token: string,
  now: number = Date.now(),
): Promise<PeekResult> {
  if (!TOKEN_SHAPE.test(token)) return failure("INVITE_INVALID");
  const { rows } = await q.query<InvitationRow>(`SELECT ${COLUMNS} FROM invitations WHERE token_hash = $1`, [
    hashInvitationToken(token),
  ]);
  const row = rows[0];
  if (!row) return failure("INVITE_INVALID");
  const invitation = toInvitation(row);
  if (invitation.usedAt !== null) return failure("INVITE_USED");
  if (invitation.expiresAt <= now) return failure("INVITE_EXPIRED");
  const { sessionId, role, canBid, expiresAt } = invitation;
  // The invitee is about to join: the session's title is theirs to see ("You're invited to Smith v. Acme").
  const session = await q.query<{ title: string }>("SELECT title FROM sessions WHERE id = $1", [sessionId]);
  const title = session.rows[0]?.title ?? "";
  return { ok: true, invitation: { sessionId, title, role, canBid, expiresAt } };
}

/** Every invitation of a session, oldest first, for the people running it. Tokens cannot be recovered. */
export async function listInvitations(q: Queryable, sessionId: string): Promise<Invitation[]> {
  const { rows } = await q.query<InvitationRow>(
    `SELECT ${COLUMNS} FROM invitations WHERE session_id = $1 ORDER BY created_at, id`,
    [sessionId],
  );
  return rows.map(toInvitation);
}
