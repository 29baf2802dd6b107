// RFC 5545 shape of a session's calendar: CRLF, folding at 75 octets, TEXT escaping, UTC times, one VEVENT per time.
import { describe, expect, it } from "vitest";
import { sessionCalendar } from "../../src/notify/calendar";

const T0 = Date.UTC(2027, 0, 4, 9, 0, 0);
const HOUR = 3600_000;
const TITLE =
  'Smith, Jones; and "Acme" \\ Widgets\nSecond line — ünïcödé naïveté, déjà vu, façade, ræsonnement, smörgåsbord 🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝';

function unfold(ics: string): string[] {
  return ics.replace(/\r\n[ \t]/g, "").split("\r\n");
}

const full = sessionCalendar({
  sessionId: "session-1",
  title: TITLE,
  startAt: T0,
  deadlines: {
    step2ClosesAt: T0 + 48 * HOUR,
    step3ClosesAt: T0 + 30 * 24 * HOUR,
    sessionEndsAt: T0 + 30 * 24 * HOUR,
    requestConsentBy: T0 + 60 * HOUR,
    proposalAnswerBy: null,
  },
  url: "https://mediate.example.test/sessions/session-1",
  now: T0 - HOUR,
});

describe("sessionCalendar", () => {
  it("ends every line with CRLF and folds at 75 octets, never inside a UTF-8 character", () => {
    expect(full.endsWith("\r\n")).toBe(true);
    expect(full.replace(/\r\n/g, "")).not.toMatch(/[\r\n]/);
    const lines = full.split("\r\n").slice(0, -1);
    let folded = 0;
    for (const line of lines) {
      expect(Buffer.byteLength(line, "utf8"), line).toBeLessThanOrEqual(75);
      if (line.startsWith(" ")) folded++;
    }
    expect(folded).toBeGreaterThan(0); // the long title did need folding
    // Each physical line is whole UTF-8 on its own (no character split across a fold).
    for (const line of lines)
      expect(Buffer.from(Buffer.from(line, "utf8").toString("utf8"), "utf8").toString()).toBe(line);
    expect(unfold(full).join("\n")).toContain("ünïcödé naïveté");
  });

  it("escapes backslash, semicolon, comma and line breaks in TEXT values", () => {
    const summary = unfold(full).find((l) => l.startsWith("SUMMARY:Step 2 closes"));
    expect(summary).toBe(
      'SUMMARY:Step 2 closes — Smith\\, Jones\\; and "Acme" \\\\ Widgets\\nSecond line — ünïcödé naïveté\\, déjà vu\\, façade\\, ræsonnement\\, smörgåsbord 🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝🤝',
    );
    for (const line of unfold(full)) {
      if (!/^(SUMMARY|DESCRIPTION):/.test(line)) continue;
      const value = line.slice(line.indexOf(":") + 1);
      // every ; and , is escaped, and no backslash is left dangling
      expect(value.replace(/\\[\\;,nN]/g, "")).not.toMatch(/[;,\\]/);
    }
  });

  it("has one VEVENT for the start and one per non-null deadline, each with a stable UID and a 15-minute alarm", () => {
    const lines = unfold(full);
    const uids = lines.filter((l) => l.startsWith("UID:"));
    expect(uids).toEqual([
      "UID:session-1-start@backchannel",
      "UID:session-1-step2-close@backchannel",
      "UID:session-1-step3-close@backchannel",
      "UID:session-1-session-end@backchannel",
      "UID:session-1-request-consent@backchannel",
    ]);
    expect(lines.filter((l) => l === "BEGIN:VEVENT")).toHaveLength(5);
    expect(lines.filter((l) => l === "END:VEVENT")).toHaveLength(5);
    expect(lines.filter((l) => l === "TRIGGER:-PT15M")).toHaveLength(5);
    expect(lines.some((l) => l.startsWith("SUMMARY:Answer the proposal by"))).toBe(false);
    expect(lines.filter((l) => l.startsWith("SUMMARY:")).map((l) => l.split(" — ")[0])).toEqual([
      "SUMMARY:Session starts",
      "SUMMARY:Step 2 closes",
      "SUMMARY:Step 3 closes",
      "SUMMARY:Session ends",
      "SUMMARY:Consent to the smart proposal request by",
    ]);
    expect(lines).toContain("URL:https://mediate.example.test/sessions/session-1");
    expect(lines[0]).toBe("BEGIN:VCALENDAR");
    expect(lines).toContain("VERSION:2.0");
    expect(lines.some((l) => l.startsWith("PRODID:"))).toBe(true);
    expect(lines.at(-2)).toBe("END:VCALENDAR");
  });

  it("writes times in UTC with Z", () => {
    const lines = unfold(full);
    const starts = lines.filter((l) => l.startsWith("DTSTART"));
    expect(starts).toEqual([
      "DTSTART:20270104T090000Z",
      "DTSTART:20270106T090000Z",
      "DTSTART:20270203T090000Z",
      "DTSTART:20270203T090000Z",
      "DTSTART:20270106T210000Z",
    ]);
    for (const l of lines.filter((x) => x.startsWith("DTSTAMP"))) expect(l).toBe("DTSTAMP:20270104T080000Z");
  });

  it("with no deadline set, holds just the start", () => {
    const ics = sessionCalendar({
      sessionId: "s2",
      title: "T",
      startAt: T0,
      deadlines: {
        step2ClosesAt: null,
        step3ClosesAt: null,
        sessionEndsAt: null,
        requestConsentBy: null,
        proposalAnswerBy: null,
      },
      url: "https://x.test/sessions/s2",
      now: T0,
    });
    expect(unfold(ics).filter((l) => l === "BEGIN:VEVENT")).toHaveLength(1);
  });
});
