import { describe, expect, it } from "vitest";
import { formatClock, formatCountdown, formatDeadline } from "../src/lib/time";

const S = 1_000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe("formatCountdown", () => {
  it("reads minutes and seconds under an hour", () => {
    expect(formatCountdown(5 * S)).toBe("0:05");
    expect(formatCountdown(4 * M + 5 * S)).toBe("4:05");
    expect(formatCountdown(59 * M + 59 * S)).toBe("59:59");
  });

  it("reads hours, minutes and seconds under a day", () => {
    expect(formatCountdown(H)).toBe("1:00:00");
    expect(formatCountdown(H + 42 * M + 10 * S)).toBe("1:42:10");
    expect(formatCountdown(23 * H + 59 * M + 59 * S)).toBe("23:59:59");
  });

  it("reads days and hours beyond a day", () => {
    expect(formatCountdown(D)).toBe("1 day");
    expect(formatCountdown(3 * D + 4 * H + 30 * M)).toBe("3 days 4 h");
    expect(formatCountdown(28 * D)).toBe("28 days");
  });

  it("rounds up, so 0:00 means the deadline has come", () => {
    expect(formatCountdown(1)).toBe("0:01");
    expect(formatCountdown(999)).toBe("0:01");
    expect(formatCountdown(0)).toBe("0:00");
    expect(formatCountdown(-5 * S)).toBe("0:00");
    expect(formatCountdown(Number.NaN)).toBe("0:00");
  });
});

describe("formatClock", () => {
  const now = Date.UTC(2025, 2, 4, 12, 0);
  it("shows only the time today", () => {
    expect(formatClock(Date.UTC(2025, 2, 4, 14, 30), now, { locale: "en-US", timeZone: "UTC" })).toBe(
      "2:30 PM",
    );
  });
  it("adds the day on another day", () => {
    expect(formatClock(Date.UTC(2025, 2, 5, 9, 5), now, { locale: "en-US", timeZone: "UTC" })).toBe(
      "Wed, Mar 5, 9:05 AM",
    );
  });
});

describe("formatDeadline", () => {
  const now = Date.UTC(2025, 2, 4, 12, 0);
  it("names the viewer's time zone", () => {
    const at = Date.UTC(2025, 2, 5, 3, 2); // 10:02 PM on Mar 4 in New York (EST)
    expect(formatDeadline(at, now, { locale: "en-US", timeZone: "America/New_York" })).toBe("10:02 PM EST");
    expect(formatDeadline(at, now, { locale: "en-US", timeZone: "UTC" })).toBe("Wed, Mar 5, 3:02 AM UTC");
  });
  it("follows summer time", () => {
    const at = Date.UTC(2025, 6, 4, 16, 30);
    expect(formatDeadline(at, at, { locale: "en-US", timeZone: "America/New_York" })).toBe("12:30 PM EDT");
  });
  it("uses the browser's own zone when none is given", () => {
    const zone = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" })
      .formatToParts(now)
      .find((p) => p.type === "timeZoneName")?.value;
    expect(formatDeadline(now, now, { locale: "en-US" }).endsWith(` ${zone}`)).toBe(true);
  });
});
