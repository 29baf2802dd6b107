// The settings and unsubscribe pages' plain logic: which switches exist, what the sentence after unsubscribing says,
// the push key's decoding, a browser's label, and the calendar file's name.
import { NOTICE_CHANNELS } from "@backchannel/common";
import { describe, expect, it } from "vitest";
import { base64UrlToBytes, browserLabel } from "../src/lib/push";
import { isOn, kindsCarried, PREFERENCE_KINDS } from "../src/pages/NotificationSettingsPage";
import { calendarFileName } from "../src/pages/session/Header";
import { readUnsubscribeToken, unsubscribedSentence, unsubscribePreview } from "../src/pages/UnsubscribePage";

describe("notification preferences", () => {
  it("offer a switch only where the channel carries the kind (common's NOTICE_CHANNELS)", () => {
    expect(kindsCarried("push")).toEqual(["deal", "knock", "consent", "proposal", "step2-open", "reminder"]);
    expect(kindsCarried("mail")).toContain("invitation");
    expect(kindsCarried("mail")).not.toContain("knock");
    // Messages, the mediator's moves and step updates stay in the page: no row for them.
    expect(PREFERENCE_KINDS).not.toContain("message");
    expect(PREFERENCE_KINDS).not.toContain("mediator");
    for (const k of PREFERENCE_KINDS) expect(NOTICE_CHANNELS[k].mail || NOTICE_CHANNELS[k].push).toBe(true);
  });

  it("read a kind as on unless the server says it is off", () => {
    const prefs = { mail: { deal: false }, push: { knock: true } };
    expect(isOn(prefs, "mail", "deal")).toBe(false);
    expect(isOn(prefs, "mail", "ended")).toBe(true);
    expect(isOn(prefs, "push", "knock")).toBe(true);
  });
});

describe("unsubscribing", () => {
  it("says before the button what the token names (a preview: the server checks the token)", () => {
    // The server's form (server/src/notify/unsubscribe.ts): base64url("<channel>\n<kind>\n<email>") "." MAC; the e2e
    // test reads a token the server really signed.
    const token = `${Buffer.from("mail\nproposal\nann@example.com").toString("base64url")}.${"A".repeat(43)}`;
    expect(readUnsubscribeToken(token)).toEqual({
      email: "ann@example.com",
      channel: "mail",
      kind: "proposal",
    });
    expect(unsubscribePreview(readUnsubscribeToken(token))).toBe(
      "This turns off mail about “a proposal is put to your side” for ann@example.com. Nothing else changes.",
    );
    for (const bad of [
      "x".repeat(40),
      `${Buffer.from("mail\nnot-a-kind\na@b").toString("base64url")}.mac`,
      "",
    ]) {
      expect(readUnsubscribeToken(bad)).toBeNull();
    }
    expect(unsubscribePreview(null)).toMatch(/^This turns off one kind of mail/);
  });

  it("says what was turned off, and for which address", () => {
    expect(unsubscribedSentence({ email: "ann@example.com", channel: "mail", kind: "ended" })).toBe(
      "You will no longer get mail about “a session ends without a deal” at ann@example.com.",
    );
  });
});

describe("push", () => {
  it("decodes the base64url VAPID key to its bytes", () => {
    const bytes = Uint8Array.from([0, 251, 255, 62, 63, 4, 200]);
    const b64url = Buffer.from(bytes).toString("base64url");
    expect(Array.from(base64UrlToBytes(b64url))).toEqual(Array.from(bytes));
  });

  it("labels a browser as a person recognises it", () => {
    expect(
      browserLabel(
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36",
      ),
    ).toBe("Chrome on Android");
    expect(
      browserLabel("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    ).toBe("Firefox on Windows");
  });
});

describe("the calendar file", () => {
  it("is named after the session, in characters every system accepts", () => {
    expect(calendarFileName("Smith v. Acme Logistics")).toBe("smith-v-acme-logistics-deadlines");
    expect(calendarFileName("Müller ./ GmbH")).toBe("muller-gmbh-deadlines");
    expect(calendarFileName("???")).toBe("session-deadlines");
  });
});
