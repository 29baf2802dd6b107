// Audit export: one role's stream of a session as a self-contained JSON file that anyone can verify offline.
// It holds only the events that role may see, numbered by the stream's own positions (no placeholder, no count of
// what was hidden), each with the public part of the event, the hash of its ciphertexts and its anchor in the
// session's own chain. The last head is signed by the server; heads a party saved from pushes pin the rest.
import { canonicalJson } from "./canonical-json";
import {
  chainHash,
  GENESIS_HASH,
  isSealedValue,
  type StoredEvent,
  type StreamContent,
  type StreamEntry,
  type StreamName,
  sealedCommitmentOf,
  streamContent,
  streamDigest,
} from "./event-log";
import { type SignedHead, verifyHead } from "./signing";

export const AUDIT_FORMAT = "backchannel-audit/2";

export interface AuditEntry {
  position: number;
  /** the event's public part, as the stream's digest covers it */
  content: StreamContent;
  /** a commitment to the event's ciphertexts (see sealedCommitmentOf); never a number, never their hash itself */
  sealed: string;
  /** the session chain's hash after this event (opaque to a party; links the stream to the operator's log) */
  anchor: string;
  digest: string;
  head: string;
}

export interface AuditExport {
  format: typeof AUDIT_FORMAT;
  sessionId: string;
  stream: StreamName;
  exportedAt: string;
  events: AuditEntry[];
  /** the signed head after the last entry (position 0 and the genesis hash for an empty stream) */
  head: SignedHead;
  /** the public key the head was signed with; compare it with GET /api/audit/key or a copy you trust */
  publicKey: { keyId: string; pem: string };
  /** rows that did not read back as they were written: reported here, and the chain breaks at them */
  damaged?: Array<{ position: number; problem: string }>;
}

export type AuditVerdict =
  | { ok: true; events: number; head: string; signed: boolean; savedHeadsChecked: number }
  | { ok: false; brokenAt: number; reason: string };

/** The file is not an audit export at all (as opposed to an export whose chain is broken). */
export class AuditFormatError extends Error {
  override name = "AuditFormatError";
}

/**
 * Builds one stream's export from its stored rows, without decrypting anything: a row whose content no longer
 * matches the digest stored with it is exported as stored and listed under `damaged`, so the verifier reports it.
 */
export function buildAuditExport(opts: {
  sessionId: string;
  stream: StreamName;
  rows: ReadonlyArray<StoredEvent & { entry: StreamEntry }>;
  sealed: (type: string) => readonly string[];
  sign: (head: Omit<SignedHead, "signature" | "keyId">) => SignedHead;
  publicKey: { keyId: string; pem: string };
  now?: Date;
}): AuditExport {
  const damaged: Array<{ position: number; problem: string }> = [];
  const events = opts.rows.map((row): AuditEntry => {
    if (row.sessionId !== opts.sessionId) throw new Error(`event ${row.version} belongs to another session`);
    for (const field of opts.sealed(row.type)) {
      // A confidential field stored unsealed would otherwise land in the export in plaintext.
      if (Object.hasOwn(row.payload, field) && !isSealedValue(row.payload[field])) {
        throw new Error(`event ${row.version} (${row.type}): confidential field "${field}" is not sealed`);
      }
    }
    const { position, digest, head } = row.entry;
    const content = streamContent(row, opts.stream, position);
    const sealed = sealedCommitmentOf(row.payload);
    if (streamDigest(content, sealed, row.chainHash) !== digest) {
      damaged.push({ position, problem: "the stored event no longer matches the digest written with it" });
    }
    return { position, content, sealed, anchor: row.chainHash, digest, head };
  });
  const last = events.at(-1);
  const file: AuditExport = {
    format: AUDIT_FORMAT,
    sessionId: opts.sessionId,
    stream: opts.stream,
    exportedAt: (opts.now ?? new Date()).toISOString(),
    events,
    head: opts.sign({
      sessionId: opts.sessionId,
      stream: opts.stream,
      position: last?.position ?? 0,
      head: last?.head ?? GENESIS_HASH,
    }),
    publicKey: opts.publicKey,
  };
  if (damaged.length > 0) file.damaged = damaged;
  return file;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Recomputes the stream's chain from the genesis hash through every entry (content, ciphertext hash and anchor give
 * the digest; the digest gives the head), then checks the signed final head, and every head the party saved
 * (`savedHeads`, from pushes) against the entry at its position. `publicKeyPem` is the key to trust; without it the
 * file's own key is used, which proves only that the file is self-consistent.
 */
export function verifyAuditExport(
  file: unknown,
  opts: { savedHeads?: unknown[]; publicKeyPem?: string } = {},
): AuditVerdict {
  if (typeof file !== "object" || file === null || Array.isArray(file)) {
    throw new AuditFormatError("not an audit export: expected a JSON object");
  }
  const f = file as Record<string, unknown>;
  if (f.format !== AUDIT_FORMAT) {
    throw new AuditFormatError(`not an audit export: format must be "${AUDIT_FORMAT}"`);
  }
  if (typeof f.sessionId !== "string") throw new AuditFormatError("audit export has no sessionId");
  if (typeof f.stream !== "string") throw new AuditFormatError("audit export has no stream");
  if (!Array.isArray(f.events)) throw new AuditFormatError("audit export has no events array");
  if (typeof f.head !== "object" || f.head === null) throw new AuditFormatError("audit export has no head");
  const sessionId = f.sessionId;
  const stream = f.stream;

  const heads: string[] = [GENESIS_HASH];
  for (const [i, raw] of f.events.entries()) {
    const position = i + 1;
    const broken = (reason: string): AuditVerdict => ({ ok: false, brokenAt: position, reason });
    if (typeof raw !== "object" || raw === null || Array.isArray(raw))
      return broken("entry is not an object");
    const e = raw as Record<string, unknown>;
    if (e.position !== position) {
      return broken(
        `expected position ${position}, found ${JSON.stringify(e.position)} (missing or reordered)`,
      );
    }
    for (const key of ["digest", "head", "anchor", "sealed"] as const) {
      if (typeof e[key] !== "string" || !HEX64.test(e[key] as string))
        return broken(`${key} is not a sha256 hex string`);
    }
    const problem = checkContent(e.content, sessionId, stream, position);
    if (problem) return broken(problem);
    let digest: string;
    try {
      digest = streamDigest(e.content as StreamContent, e.sealed as string, e.anchor as string);
    } catch {
      return broken("content cannot be hashed as canonical JSON");
    }
    if (digest !== e.digest) return broken("content does not match the digest");
    const head = chainHash(heads[i] as string, digest);
    if (head !== e.head) return broken("head does not follow from the previous head and this digest");
    heads.push(head);
  }

  const key = opts.publicKeyPem ?? (f.publicKey as { pem?: unknown } | undefined)?.pem;
  const n = f.events.length;
  const signed = checkSignedHead(f.head, sessionId, stream, heads, typeof key === "string" ? key : undefined);
  if (signed !== null) return { ok: false, brokenAt: n, reason: `final head: ${signed}` };
  const signedAt = (f.head as { position?: unknown }).position;
  if (signedAt !== n) {
    return {
      ok: false,
      brokenAt: n,
      reason: `final head: signed for position ${signedAt}, but the export has ${n} entries (entries after the signed head are unsigned)`,
    };
  }
  let savedHeadsChecked = 0;
  for (const saved of opts.savedHeads ?? []) {
    if (typeof saved !== "object" || saved === null)
      return { ok: false, brokenAt: n, reason: "a saved head is not an object" };
    const s = saved as Partial<SignedHead>;
    if (s.sessionId !== sessionId || s.stream !== stream) continue;
    const problem = checkSignedHead(
      saved,
      sessionId,
      stream,
      heads,
      typeof key === "string" ? key : undefined,
    );
    if (problem !== null) {
      return {
        ok: false,
        brokenAt: Number(s.position),
        reason: `saved head at position ${s.position}: ${problem}`,
      };
    }
    savedHeadsChecked += 1;
  }
  return {
    ok: true,
    events: n,
    head: heads[n] as string,
    signed: typeof key === "string",
    savedHeadsChecked,
  };
}

function checkSignedHead(
  raw: unknown,
  sessionId: string,
  stream: string,
  heads: readonly string[],
  publicKeyPem: string | undefined,
): string | null {
  if (typeof raw !== "object" || raw === null) return "not a signed head";
  const h = raw as SignedHead;
  if (h.sessionId !== sessionId || h.stream !== stream) return "belongs to another session or stream";
  if (!Number.isInteger(h.position) || h.position < 0) return "position is not a whole number";
  if (h.position >= heads.length) return "is beyond the end of this export (the export is missing events)";
  if (heads[h.position] !== h.head)
    return "does not match the export: the log was changed after it was signed";
  if (publicKeyPem !== undefined && !verifyHead(publicKeyPem, h))
    return "signature does not verify with the key";
  return null;
}

function checkContent(c: unknown, sessionId: string, stream: string, position: number): string | null {
  if (typeof c !== "object" || c === null || Array.isArray(c)) return "content is not an object";
  const content = c as Record<string, unknown>;
  if (content.sessionId !== sessionId) return "content belongs to another session";
  if (content.stream !== stream) return "content belongs to another stream";
  if (content.position !== position) return "content position does not match the entry";
  const payload = content.payload;
  if (typeof payload !== "object" || payload === null) return "content has no payload";
  if (Object.values(payload).some(isSealedValue)) {
    return "content holds a sealed field; only the public part belongs in content";
  }
  try {
    canonicalJson(content);
  } catch {
    return "content cannot be hashed as canonical JSON";
  }
  return null;
}
