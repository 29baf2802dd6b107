// Where a session token travels: an HttpOnly cookie for the browser app, or an Authorization: Bearer header
// for API clients. The same reader serves HTTP requests and the Socket.IO handshake.

export const COOKIE_NAME = "bc_session";

export interface SessionCookieOptions {
  httpOnly: true;
  /** Lax, not Strict: Strict drops the cookie when a person follows an invitation link from their email. */
  sameSite: "lax";
  /** HTTPS only, in production; plain http://localhost must keep working in development. */
  secure: boolean;
  path: "/";
  expires?: Date;
}

/**
 * Options for res.cookie(COOKIE_NAME, token, cookieOptions(production, expiresAt)), expiring with the token
 * (expiresAt: epoch ms). Without expiresAt, for res.clearCookie(COOKIE_NAME, cookieOptions(production)).
 */
export function cookieOptions(production: boolean, expiresAt?: number): SessionCookieOptions {
  const options: SessionCookieOptions = { httpOnly: true, sameSite: "lax", secure: production, path: "/" };
  if (expiresAt !== undefined) options.expires = new Date(expiresAt);
  return options;
}

export interface RequestLike {
  headers: { cookie?: string | string[]; authorization?: string | string[] };
}

// A JWT is three base64url parts; anything longer than this is not one of ours and is not worth parsing.
const MAX_TOKEN_LENGTH = 4096;

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join("; ") : value;
}

function cookieValue(header: string, name: string): string | null {
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      return decodeURIComponent(value);
    } catch {
      return null;
    }
  }
  return null;
}

/** The bearer token if there is one, else the session cookie's value, else null. */
export function readToken(req: RequestLike): string | null {
  const authorization = single(req.headers.authorization)?.trim();
  const bearer = authorization ? /^Bearer\s+(\S+)$/i.exec(authorization)?.[1] : undefined;
  const cookieHeader = single(req.headers.cookie);
  const token = bearer ?? (cookieHeader ? cookieValue(cookieHeader, COOKIE_NAME) : null);
  if (!token || token.length > MAX_TOKEN_LENGTH) return null;
  return token;
}
