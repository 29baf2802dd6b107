// Times and countdowns as people read them on a mediation day: "1:42:10", "2 days 4 h", "2:30 PM".

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const two = (n: number) => String(n).padStart(2, "0");

/**
 * Time left until a deadline. Under an hour "4:05"; under a day "1:42:10"; beyond that days and hours
 * ("3 days 4 h"), since seconds mean nothing four weeks out. Rounded up, so "0:00" means the deadline has come.
 */
export function formatCountdown(msLeft: number): string {
  if (!Number.isFinite(msLeft) || msLeft <= 0) return "0:00";
  const totalSeconds = Math.ceil(msLeft / SECOND);
  if (totalSeconds * SECOND >= DAY) {
    const days = Math.floor(totalSeconds / (DAY / SECOND));
    const hours = Math.floor((totalSeconds % (DAY / SECOND)) / (HOUR / SECOND));
    return `${days} day${days === 1 ? "" : "s"}${hours > 0 ? ` ${hours} h` : ""}`;
  }
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  return hours > 0 ? `${hours}:${two(minutes)}:${two(seconds)}` : `${minutes}:${two(seconds)}`;
}

export interface ClockOptions {
  locale?: string;
  timeZone?: string;
  /** names the time zone ("10:02 PM EST"): for deadlines, which people carry to calendars and other places */
  zone?: boolean;
}

function sameDay(a: Date, b: Date, timeZone?: string): boolean {
  const day = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  });
  return day.format(a) === day.format(b);
}

/**
 * "2:30 PM" today, "Tue, Mar 4, 2:30 PM" on another day; with `zone`, the zone is named: "2:30 PM EST" (the
 * viewer's own zone unless `timeZone` says otherwise).
 */
export function formatClock(at: number, now: number, opts: ClockOptions = {}): string {
  const date = new Date(at);
  const time: Intl.DateTimeFormatOptions = {
    hour: "numeric",
    minute: "2-digit",
    timeZone: opts.timeZone,
    ...(opts.zone ? { timeZoneName: "short" } : {}),
  };
  if (sameDay(date, new Date(now), opts.timeZone)) return date.toLocaleTimeString(opts.locale, time);
  return date.toLocaleString(opts.locale, { ...time, weekday: "short", month: "short", day: "numeric" });
}

/** A deadline as a time in the viewer's own zone, the zone named: "10:02 PM EST", "Wed, Mar 5, 9:05 AM GMT+1". */
export function formatDeadline(at: number, now: number, opts: Omit<ClockOptions, "zone"> = {}): string {
  return formatClock(at, now, { ...opts, zone: true });
}

/** Value for an <input type="datetime-local"> in the browser's time zone. */
export function toLocalInputValue(at: number): string {
  const d = new Date(at);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** Epoch ms from an <input type="datetime-local"> value, or null when it is empty or not a date. */
export function fromLocalInputValue(value: string): number | null {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : null;
}

export const DURATION = { SECOND, MINUTE, HOUR, DAY } as const;
