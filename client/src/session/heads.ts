// The stream heads this browser received, kept per session in localStorage: the server signed each one, so they
// are the party's own record of what the server said. `npm run audit:verify -- <audit export> --heads <this file>`
// checks an audit export against them, so a log rewritten after the fact cannot pass.
import type { SignedHeadWire } from "@backchannel/common";

const KEY_PREFIX = "backchannel:heads:";
/** Heads kept per session: the newest ones, plus every deal's final head (one head already pins all before it). */
const KEEP = 100;

export interface HeadStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

function storage(): HeadStorage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null;
  }
}

export function savedHeads(sessionId: string, store: HeadStorage | null = storage()): SignedHeadWire[] {
  return readHeads(sessionId, store) ?? [];
}

/** The kept heads, or null when the storage cannot be read (then nothing may be written over them either). */
function readHeads(sessionId: string, store: HeadStorage | null): SignedHeadWire[] | null {
  let raw: string | null | undefined;
  try {
    raw = store?.getItem(KEY_PREFIX + sessionId);
  } catch {
    return null;
  }
  if (!raw) return [];
  try {
    const parsed = JSON.parse(raw) as unknown;
    return Array.isArray(parsed) ? (parsed as SignedHeadWire[]) : [];
  } catch {
    return [];
  }
}

/** Keeps a head (once per position), the newest KEEP of them. Storage failures are ignored: the page still works. */
export function saveHead(head: SignedHeadWire, store: HeadStorage | null = storage()): void {
  if (!store || head.position === 0) return;
  const kept = readHeads(head.sessionId, store);
  if (kept === null) return;
  const heads = kept.filter((h) => !(h.position === head.position && h.stream === head.stream));
  heads.push(head);
  heads.sort((a, b) => a.position - b.position);
  try {
    store.setItem(KEY_PREFIX + head.sessionId, JSON.stringify(heads.slice(-KEEP)));
  } catch {
    // A full or blocked storage loses only this record.
  }
}

/** The file `audit:verify --heads` reads. */
export function headsFile(sessionId: string, store: HeadStorage | null = storage()): string {
  return `${JSON.stringify({ format: "backchannel-heads/1", sessionId, heads: savedHeads(sessionId, store) }, null, 2)}\n`;
}
