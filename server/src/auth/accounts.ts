// Accounts: sign up, sign in, look up. Failures are values with a stable code and a sentence for the person.

import { randomUUID } from "node:crypto";
import { errors, MAX_NAME_LENGTH } from "@backchannel/common";
import { isUuid } from "../payload";
import type { Queryable } from "../store/db";
import { checkPasswordPolicy, defaultPasswordHasher, type PasswordHasher } from "./passwords";

export interface User {
  id: string;
  email: string;
  displayName: string;
  /** epoch milliseconds */
  createdAt: number;
}

export interface AccountFailure<C extends string> {
  code: C;
  message: string;
  /** the input field the message is about, when there is one */
  field?: "email" | "password" | "displayName";
}

/** A User, or a failure; tell them apart with `"code" in result`. */
export type SignUpResult = User | AccountFailure<"EMAIL_TAKEN" | "INVALID_INPUT">;
export type SignInResult = User | AccountFailure<"INVALID_CREDENTIALS">;

export interface AccountDeps {
  hasher?: PasswordHasher;
}

const EMAIL_MAX_LENGTH = 254;
// The one limit on a person's name (the sign-up schema and the engine use it too).
const DISPLAY_NAME_MAX_LENGTH = MAX_NAME_LENGTH;
// Deliberately loose: one @, something on each side, a dot in the domain. Delivery is the real test.
const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

interface UserRow {
  id: string;
  email: string;
  display_name: string;
  password_hash: string;
  created_at: Date | string;
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    createdAt: new Date(row.created_at).getTime(),
  };
}

function invalid(field: "email" | "password" | "displayName", message: string): SignUpResult {
  return { code: "INVALID_INPUT", message, field };
}

export async function signUp(
  db: Queryable,
  input: { email: string; password: string; displayName: string },
  deps: AccountDeps = {},
): Promise<SignUpResult> {
  const email = normaliseEmail(input.email);
  if (email.length > EMAIL_MAX_LENGTH || !EMAIL_SHAPE.test(email)) {
    return invalid("email", "Enter a valid email address, such as name@example.com.");
  }
  const displayName = input.displayName.trim();
  if (displayName.length === 0 || [...displayName].length > DISPLAY_NAME_MAX_LENGTH) {
    return invalid("displayName", `Enter a name of 1 to ${DISPLAY_NAME_MAX_LENGTH} characters.`);
  }
  if (CONTROL_CHARACTERS.test(displayName)) {
    return invalid("displayName", "A name cannot contain control characters.");
  }
  const passwordProblem = checkPasswordPolicy(input.password);
  if (passwordProblem) return invalid("password", passwordProblem);

  const passwordHash = await (deps.hasher ?? defaultPasswordHasher).hash(input.password);
  // ON CONFLICT settles a race between two sign-ups with one email without an error.
  const { rows } = await db.query<UserRow>(
    `INSERT INTO users (id, email, display_name, password_hash, created_at)
     VALUES ($1, $2, $3, $4, now())
     ON CONFLICT (email) DO NOTHING
     RETURNING id, email, display_name, password_hash, created_at`,
    [randomUUID(), email, displayName, passwordHash],
  );
  const row = rows[0];
  if (!row) {
    return {
      code: "EMAIL_TAKEN",
      message: errors.emailTaken().message,
      field: "email",
    };
  }
  return toUser(row);
}

export async function signIn(
  db: Queryable,
  input: { email: string; password: string },
  deps: AccountDeps = {},
): Promise<SignInResult> {
  const hasher = deps.hasher ?? defaultPasswordHasher;
  const { rows } = await db.query<UserRow>(
    "SELECT id, email, display_name, password_hash, created_at FROM users WHERE email = $1",
    [normaliseEmail(input.email)],
  );
  const row = rows[0];
  // An unknown email costs one hash verification too, so timing does not tell which emails have accounts.
  const storedHash = row?.password_hash ?? (await hasher.dummyHash());
  const matches = await hasher.verify(storedHash, input.password);
  if (!row || !matches) return { code: "INVALID_CREDENTIALS", message: errors.invalidCredentials().message };
  return toUser(row);
}

export async function getUser(db: Queryable, id: string): Promise<User | null> {
  // A malformed id would make PostgreSQL throw on the uuid cast; it simply matches nobody.
  if (!isUuid(id)) return null;
  const { rows } = await db.query<UserRow>(
    "SELECT id, email, display_name, password_hash, created_at FROM users WHERE id = $1",
    [id],
  );
  const row = rows[0];
  return row ? toUser(row) : null;
}

/** Whether an account with this id exists (a token's subject, checked at every use of the token). */
export async function userExists(db: Queryable, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const { rows } = await db.query<{ found: number }>("SELECT 1 AS found FROM users WHERE id = $1", [id]);
  return rows.length > 0;
}
