// Unsubscribe links: a mail's link (and its List-Unsubscribe header, RFC 8058) carries a token naming one address,
// one channel and one kind of notice, so a person can turn that kind off without signing in. The token is the
// payload in base64url and an HMAC-SHA256 of it under a key derived from the server's master key; nothing is stored.
// It never expires: a link in an old mail must keep working.
import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { NOTICE_KINDS, type NoticeChannel, type NoticeKind } from "@backchannel/common";

export interface UnsubscribeTarget {
  email: string;
  channel: NoticeChannel;
  kind: NoticeKind;
}

export interface UnsubscribeTokens {
  sign(target: UnsubscribeTarget): string;
  /** The target a token was signed for, or null when it is malformed, forged, or names an unknown channel or kind. */
  verify(token: string): UnsubscribeTarget | null;
}

const KEY_BYTES = 32;
/** The MAC covers this prefix too, so a MAC made with the same key for any other purpose never verifies here. */
const MAC_CONTEXT = "backchannel-unsubscribe/1\n";
const CHANNELS: readonly string[] = ["mail", "push"];
const KINDS: readonly string[] = NOTICE_KINDS;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const MAX_EMAIL_LENGTH = 320;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The unsubscribe key, derived from the server's master key (32 bytes) so no other secret needs storing. */
export function unsubscribeKeyFrom(masterKey: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", masterKey, "", "backchannel unsubscribe v1", KEY_BYTES));
}

/**
 * Tokens look like `<payload>.<mac>`, both base64url without padding. The payload is the UTF-8 text
 * `<channel>\n<kind>\n<email>`; the mac is HMAC-SHA256(key, MAC_CONTEXT + payload bytes), all 32 bytes.
 */
export function createUnsubscribeTokens(key: Buffer): UnsubscribeTokens {
  if (!Buffer.isBuffer(key) || key.length < 16)
    throw new Error("the unsubscribe key must be at least 16 bytes");
  const macOf = (payload: Buffer) =>
    createHmac("sha256", key).update(MAC_CONTEXT, "utf8").update(payload).digest();

  return {
    sign({ email, channel, kind }) {
      if (!CHANNELS.includes(channel)) throw new Error("unknown notice channel");
      if (!KINDS.includes(kind)) throw new Error("unknown notice kind");
      if (!validEmail(email)) throw new Error("not an address an unsubscribe token can name");
      const payload = Buffer.from(`${channel}\n${kind}\n${email}`, "utf8");
      return `${payload.toString("base64url")}.${macOf(payload).toString("base64url")}`;
    },

    verify(token) {
      if (typeof token !== "string" || token.length > 1000) return null;
      const parts = token.split(".");
      if (parts.length !== 2) return null;
      const payload = strictBase64url(parts[0] as string);
      const mac = strictBase64url(parts[1] as string);
      if (payload === null || mac === null) return null;
      const expected = macOf(payload);
      if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return null;

      let text: string;
      try {
        text = utf8.decode(payload);
      } catch {
        return null;
      }
      const fields = text.split("\n");
      if (fields.length !== 3) return null;
      const [channel, kind, email] = fields as [string, string, string];
      if (!CHANNELS.includes(channel) || !KINDS.includes(kind) || !validEmail(email)) return null;
      return { email, channel: channel as NoticeChannel, kind: kind as NoticeKind };
    },
  };
}

/**
 * Decodes base64url only in its one canonical spelling. Node's decoder ignores stray characters and the unused low
 * bits of the last character, so "one character changed" could otherwise decode to the very same bytes.
 */
function strictBase64url(text: string): Buffer | null {
  if (!BASE64URL.test(text)) return null;
  const bytes = Buffer.from(text, "base64url");
  return bytes.length > 0 && bytes.toString("base64url") === text ? bytes : null;
}

function validEmail(email: string): boolean {
  return (
    typeof email === "string" &&
    email.length > 2 &&
    email.length <= MAX_EMAIL_LENGTH &&
    email.includes("@") &&
    !CONTROL.test(email)
  );
}
