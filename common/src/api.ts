// REST payloads (zod 4, strict: unknown fields are refused) and the shapes of REST responses.

import { z } from "zod";
import { dashboardEntrySchema } from "./dashboard";
import { ERROR_CODES } from "./errors";
import {
  clientCommandSchema,
  displayNameSchema,
  epochMsSchema,
  idempotencyKeySchema,
  roleSchema,
  sessionViewSchema,
  signedHeadSchema,
  termsTextSchema,
  titleSchema,
} from "./protocol";
import { sessionRulesInputSchema } from "./rules";

const PASSWORD_MIN = 8;
const PASSWORD_MAX = 200;

// Trimmed and lower-cased first, so " Ann@Example.com" and "ann@example.com" are one account.
export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(254, { error: "The email address is too long" })
  .pipe(z.email({ error: "Enter a valid email address" }));

// Passwords are never trimmed: spaces are part of them.
const newPasswordSchema = z
  .string()
  .min(PASSWORD_MIN, { error: `The password must be at least ${PASSWORD_MIN} characters` })
  .max(PASSWORD_MAX, { error: `The password can be at most ${PASSWORD_MAX} characters` });

export const signUpSchema = z.strictObject({
  email: emailSchema,
  password: newPasswordSchema,
  displayName: displayNameSchema,
});

export const signInSchema = z.strictObject({
  email: emailSchema,
  // Any length up to the cap: a sign-in must not reveal the password rules by refusing early.
  password: z.string().min(1, { error: "The password is required" }).max(PASSWORD_MAX),
});

export const createSessionSchema = z.strictObject({
  title: titleSchema,
  creatorRole: roleSchema,
  /** epoch ms; the server uses its clock when absent */
  startAt: epochMsSchema.optional(),
  rules: sessionRulesInputSchema.optional(),
  termsText: termsTextSchema.optional(),
});

export const DEFAULT_INVITATION_TTL_HOURS = 168;

export const createInvitationSchema = z.strictObject({
  role: roleSchema,
  canBid: z.boolean().default(true),
  /** where to send the invitation; without it the creator passes the link on themselves */
  email: emailSchema.optional(),
  ttlHours: z
    .number()
    .int({ error: "The invitation lifetime must be a whole number of hours" })
    .min(1, { error: "An invitation must last at least 1 hour" })
    .max(720, { error: "An invitation can last at most 720 hours (30 days)" })
    .default(DEFAULT_INVITATION_TTL_HOURS),
});

export const acceptInvitationSchema = z.strictObject({
  token: z
    .string()
    .min(16, { error: "Not a valid invitation" })
    .max(200, { error: "Not a valid invitation" }),
});

/** POST /api/sessions/:id/commands: the same commands as the socket, for API clients. */
export const commandRequestSchema = z.strictObject({
  idempotencyKey: idempotencyKeySchema,
  command: clientCommandSchema,
});

export type SignUpRequest = z.input<typeof signUpSchema>;
export type SignInRequest = z.input<typeof signInSchema>;
export type CreateSessionRequest = z.input<typeof createSessionSchema>;
export type CreateInvitationRequest = z.input<typeof createInvitationSchema>;
export type AcceptInvitationRequest = z.input<typeof acceptInvitationSchema>;
export type CommandRequest = z.input<typeof commandRequestSchema>;

// ---------------------------------------------------------------- responses

export const userSchema = z.strictObject({ id: z.string(), email: z.string(), name: z.string() });
export type User = z.output<typeof userSchema>;

/** POST /api/auth/signup (201) and /api/auth/signin (200); the token is also set as the HttpOnly cookie. */
export const authResponseSchema = z.strictObject({
  user: userSchema,
  token: z.string(),
  expiresAt: epochMsSchema,
});
export type AuthResponse = z.output<typeof authResponseSchema>;

/** GET /api/sessions: the caller's sessions as home-page lines (dashboard.ts), newest first. */
export const sessionListSchema = z.strictObject({ sessions: z.array(dashboardEntrySchema) });
export type SessionList = z.output<typeof sessionListSchema>;

/**
 * GET /api/sessions/:id and POST /api/sessions (201): the session as the caller may see it, the caller's stream
 * position, and the server's signed head at that position.
 */
export const sessionResponseSchema = z.strictObject({
  version: z.number().int().min(0),
  view: sessionViewSchema,
  head: signedHeadSchema,
});

/** GET /api/audit/key: the public half of the key that signs stream heads. */
export const auditKeySchema = z.strictObject({
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
  pem: z.string().startsWith("-----BEGIN PUBLIC KEY-----"),
  algorithm: z.literal("Ed25519"),
});
export type AuditKey = z.output<typeof auditKeySchema>;
export type SessionResponse = z.output<typeof sessionResponseSchema>;

export const createdInvitationSchema = z.strictObject({
  invitation: z.strictObject({
    id: z.string(),
    role: roleSchema,
    canBid: z.boolean(),
    expiresAt: epochMsSchema,
  }),
  /** shown once to the inviter; stored only hashed */
  token: z.string(),
  /** the link to pass on: <origin>/invite/<token> */
  link: z.string(),
  /** when the request gave an email address: the invitation mail is queued to it (the link is still shown) */
  emailedTo: z.string().optional(),
});
export type CreatedInvitation = z.output<typeof createdInvitationSchema>;

export const acceptedInvitationSchema = z.strictObject({
  sessionId: z.string(),
  version: z.number().int().min(0),
  view: sessionViewSchema.nullable(),
});
export type AcceptedInvitation = z.output<typeof acceptedInvitationSchema>;

export const errorBodySchema = z.strictObject({
  error: z.strictObject({
    code: z.enum(ERROR_CODES),
    message: z.string(),
    retryAt: epochMsSchema.optional(),
  }),
});
export type ErrorBody = z.output<typeof errorBodySchema>;
