import { describe, expect, it } from "vitest";
import { COOKIE_NAME, cookieOptions, readToken } from "../../src/auth/cookies";

const TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";

describe("session cookie options", () => {
  it("is HttpOnly, SameSite=Lax and Path=/, Secure only in production", () => {
    expect(COOKIE_NAME).toBe("bc_session");
    expect(cookieOptions(false)).toEqual({ httpOnly: true, sameSite: "lax", secure: false, path: "/" });
    expect(cookieOptions(true)).toEqual({ httpOnly: true, sameSite: "lax", secure: true, path: "/" });
  });

  it("expires with the token", () => {
    const expiresAt = Date.UTC(2030, 0, 1, 21, 0, 0);
    expect(cookieOptions(true, expiresAt).expires).toEqual(new Date(expiresAt));
  });
});

describe("readToken", () => {
  it("reads a bearer token", () => {
    expect(readToken({ headers: { authorization: `Bearer ${TOKEN}` } })).toBe(TOKEN);
    expect(readToken({ headers: { authorization: `bearer   ${TOKEN}` } })).toBe(TOKEN);
  });

  it("reads the session cookie among others", () => {
    expect(readToken({ headers: { cookie: `theme=dark; ${COOKIE_NAME}=${TOKEN}; lang=en` } })).toBe(TOKEN);
    expect(readToken({ headers: { cookie: `${COOKIE_NAME}=${TOKEN}` } })).toBe(TOKEN);
    expect(readToken({ headers: { cookie: `${COOKIE_NAME}="${TOKEN}"` } })).toBe(TOKEN);
  });

  it("prefers the bearer token when both are present", () => {
    const headers = { authorization: "Bearer from-header", cookie: `${COOKIE_NAME}=from-cookie` };
    expect(readToken({ headers })).toBe("from-header");
  });

  it("falls back to the cookie when the Authorization header is not a bearer token", () => {
    const headers = { authorization: "Basic dXNlcjpwYXNz", cookie: `${COOKIE_NAME}=${TOKEN}` };
    expect(readToken({ headers })).toBe(TOKEN);
  });

  it("ignores cookies with a similar name", () => {
    expect(readToken({ headers: { cookie: `x${COOKIE_NAME}=a; ${COOKIE_NAME}x=b` } })).toBeNull();
  });

  it("returns null when there is no token", () => {
    expect(readToken({ headers: {} })).toBeNull();
    expect(readToken({ headers: { authorization: "Bearer" } })).toBeNull();
    expect(readToken({ headers: { authorization: "Bearer a b" } })).toBeNull();
    expect(readToken({ headers: { cookie: `${COOKIE_NAME}=` } })).toBeNull();
    expect(readToken({ headers: { cookie: "" } })).toBeNull();
    expect(readToken({ headers: { cookie: `${COOKIE_NAME}=%E0%A4%A` } })).toBeNull();
  });

  it("refuses an absurdly long token without parsing it further", () => {
    expect(readToken({ headers: { authorization: `Bearer ${"a".repeat(5000)}` } })).toBeNull();
  });

  it("accepts header arrays as Node may give them", () => {
    expect(readToken({ headers: { cookie: ["a=b", `${COOKIE_NAME}=${TOKEN}`] } })).toBe(TOKEN);
  });
});
