// Unsubscribe tokens: signed (email, channel, kind), verified without storage, refused when touched in any way.
import { createHmac } from "node:crypto";
import { NOTICE_KINDS } from "@backchannel/common";
import { describe, expect, it } from "vitest";
import { createUnsubscribeTokens, unsubscribeKeyFrom } from "../../src/notify/unsubscribe";

const key = unsubscribeKeyFrom(Buffer.alloc(32, 1));
const tokens = createUnsubscribeTokens(key);
const target = { email: "Rita.Respondent+mail@example.test", channel: "mail", kind: "deal" } as const;

/** A token in the documented format, MAC'd with the right key: lets a test reach the checks behind the MAC. */
function forge(payloadText: string, withKey = key): string {
  const payload = Buffer.from(payloadText, "utf8");
  const mac = createHmac("sha256", withKey).update("backchannel-unsubscribe/1\n").update(payload).digest();
  return `${payload.toString("base64url")}.${mac.toString("base64url")}`;
}

describe("unsubscribe tokens", () => {
  it("round-trips every kind on both channels, as a compact URL-safe token", () => {
    for (const kind of NOTICE_KINDS) {
      for (const channel of ["mail", "push"] as const) {
        const token = tokens.sign({ email: "a@example.test", channel, kind });
        expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
        expect(token.length).toBeLessThan(200);
        expect(tokens.verify(token)).toEqual({ email: "a@example.test", channel, kind });
      }
    }
    expect(tokens.verify(tokens.sign(target))).toEqual(target);
    // the format the forge helper relies on is the real one
    expect(forge("mail\ndeal\nRita.Respondent+mail@example.test")).toBe(tokens.sign(target));
  });

  it("derives the key from the master key deterministically, and differently per master key", () => {
    expect(unsubscribeKeyFrom(Buffer.alloc(32, 1)).equals(key)).toBe(true);
    expect(unsubscribeKeyFrom(Buffer.alloc(32, 2)).equals(key)).toBe(false);
    expect(key).toHaveLength(32);
  });

  it("refuses a token with any single character changed", () => {
    const token = tokens.sign(target);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (let i = 0; i < token.length; i++) {
      const ch = token[i] as string;
      const replacement = ch === "." ? "A" : alphabet[(alphabet.indexOf(ch) + 1) % alphabet.length];
      const tampered = token.slice(0, i) + replacement + token.slice(i + 1);
      expect(tokens.verify(tampered), `position ${i}`).toBeNull();
    }
  });

  it("refuses a token signed with another key", () => {
    const other = createUnsubscribeTokens(unsubscribeKeyFrom(Buffer.alloc(32, 2)));
    expect(tokens.verify(other.sign(target))).toBeNull();
    expect(other.verify(tokens.sign(target))).toBeNull();
  });

  it("refuses garbage", () => {
    for (const garbage of [
      "",
      ".",
      "..",
      "abc",
      "abc.def",
      "a.b.c",
      "not a token at all",
      `${tokens.sign(target)}.extra`,
      `${tokens.sign(target)}=`,
      ` ${tokens.sign(target)}`,
      "x".repeat(2000),
      tokens.sign(target).split(".")[0] as string,
    ]) {
      expect(tokens.verify(garbage), garbage).toBeNull();
    }
    expect(tokens.verify(undefined as unknown as string)).toBeNull();
  });

  it("refuses a correctly MAC'd token with an unknown kind or channel, or a malformed payload", () => {
    expect(tokens.verify(forge("mail\ndeal\na@example.test"))).not.toBeNull(); // control: the forge is valid
    expect(tokens.verify(forge("mail\nbogus-kind\na@example.test"))).toBeNull();
    expect(tokens.verify(forge("mail\n__proto__\na@example.test"))).toBeNull();
    expect(tokens.verify(forge("sms\ndeal\na@example.test"))).toBeNull();
    expect(tokens.verify(forge("mail\ndeal\n"))).toBeNull();
    expect(tokens.verify(forge("mail\ndeal\na@example.test\nextra"))).toBeNull();
    expect(tokens.verify(forge("mail\ndeal"))).toBeNull();
    // not UTF-8
    const bad = Buffer.from([0x6d, 0x61, 0x69, 0x6c, 0x0a, 0xff, 0xfe]);
    const mac = createHmac("sha256", key).update("backchannel-unsubscribe/1\n").update(bad).digest();
    expect(tokens.verify(`${bad.toString("base64url")}.${mac.toString("base64url")}`)).toBeNull();
  });

  it("will not sign an unknown kind or channel", () => {
    expect(() => tokens.sign({ ...target, kind: "bogus" as never })).toThrow();
    expect(() => tokens.sign({ ...target, channel: "sms" as never })).toThrow();
    expect(() => tokens.sign({ ...target, email: "a@b\r\nBcc: x@y" })).toThrow();
  });
});
