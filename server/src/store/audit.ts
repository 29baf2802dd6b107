// Audit export: a session's hash chain as a self-contained JSON file that anyone can verify
// offline, showing each viewer only the public parts of the events they may see.
import { canonicalJson } from "./canonical-json";
import {
  chainHash,
  digestFromParts,
  type EventContent,
  eventDigest,
  GENESIS_HASH,
  isSealedValue,
  publicContent,
  type SealedFields,
  type StoredEvent,
  sha256Hex,
} from "./event-log";

export const AUDIT_FORMAT = "backchannel-audit/1";

/** An event's public part (sealed fields absent), as an audit export shows it. */
export type AuditContent = EventContent;

export interface AuditEntry {
  version: number;
  type?: string;
  at?: number;
  digest: string;
  chainHash: string;
  publicHash?: string;
  sealedHash?: string;
  content?: AuditContent;
  view?: unknown;
}

export interface AuditExport {
  format: typeof AUDIT_FORMAT;
  sessionId: string;
  exportedAt: string;
  viewer: { role: string };
  events: AuditEntry[];
  finalChainHash: string;
}

export type AuditVerdict =
  | { ok: true; events: number; finalChainHash: string }
  | { ok: false; brokenAt: number; reason: string };

/** The file is not an audit export at all (as opposed to an export whose chain is broken). */
export class AuditFormatError extends Error {
  override name = "AuditFormatError";
}

/**
 * Builds the export for one viewer. For an event whose public part the viewer may not see, only
 * version, digest and chain hash are included (plus the caller's `view`): type, time and the
 * part hashes stay out, since a hash of a small public payload (e.g. which side rejected) could be
 * confirmed by guessing.
 */
export function buildAuditExport(
  sessionId: string,
  viewerRole: string,
  events: StoredEvent[],
  sealed: SealedFields,
  decide: (e: StoredEvent) => { content: boolean; view?: unknown },
): AuditExport {
  const entries = events.map((e): AuditEntry => {
    if (e.sessionId !== sessionId) throw new Error(`event ${e.version} belongs to another session`);
    for (const field of sealed(e.type)) {
      // A confidential field stored unsealed would otherwise land in the export in plaintext.
      if (Object.hasOwn(e.payload, field) && !isSealedValue(e.payload[field])) {
        throw new Error(`event ${e.version} (${e.type}): confidential field "${field}" is not sealed`);
      }
    }
    const decision = decide(e);
    const entry: AuditEntry = { version: e.version, digest: e.digest, chainHash: e.chainHash };
    if (decision.content) {
      const { publicHash, sealedHash } = eventDigest(e);
      entry.type = e.type;
      entry.at = e.at;
      entry.publicHash = publicHash;
      entry.sealedHash = sealedHash;
      entry.content = publicContent(e);
    }
    if (decision.view !== undefined) entry.view = decision.view;
    return entry;
  });
  return {
    format: AUDIT_FORMAT,
    sessionId,
    exportedAt: new Date().toISOString(),
    viewer: { role: viewerRole },
    events: entries,
    finalChainHash: events.at(-1)?.chainHash ?? GENESIS_HASH,
  };
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Recomputes the chain from GENESIS through every digest; where content is present, recomputes
 * its public hash and checks the digest; finally checks finalChainHash. Throws AuditFormatError
 * when the file is not an audit export.
 */
export function verifyAuditExport(file: unknown): AuditVerdict {
  if (typeof file !== "object" || file === null || Array.isArray(file)) {
    throw new AuditFormatError("not an audit export: expected a JSON object");
  }
  const f = file as Record<string, unknown>;
  if (f.format !== AUDIT_FORMAT) {
    throw new AuditFormatError(`not an audit export: format must be "${AUDIT_FORMAT}"`);
  }
  if (typeof f.sessionId !== "string") throw new AuditFormatError("audit export has no sessionId");
  if (!Array.isArray(f.events)) throw new AuditFormatError("audit export has no events array");
  if (typeof f.finalChainHash !== "string") throw new AuditFormatError("audit export has no finalChainHash");

  let prev = GENESIS_HASH;
  for (const [i, raw] of f.events.entries()) {
    const expected = i + 1;
    const broken = (reason: string): AuditVerdict => ({ ok: false, brokenAt: expected, reason });
    if (typeof raw !== "object" || raw === null || Array.isArray(raw))
      return broken("entry is not an object");
    const e = raw as Record<string, unknown>;
    if (e.version !== expected) {
      return broken(
        `expected version ${expected}, found ${JSON.stringify(e.version)} (missing or reordered event)`,
      );
    }
    if (typeof e.digest !== "string" || !HEX64.test(e.digest))
      return broken("digest is not a sha256 hex string");
    if (typeof e.chainHash !== "string" || !HEX64.test(e.chainHash)) {
      return broken("chain hash is not a sha256 hex string");
    }
    if (chainHash(prev, e.digest) !== e.chainHash) {
      return broken("chain hash does not follow from the previous hash and this digest");
    }
    if (e.content !== undefined) {
      const problem = checkContent(e, f.sessionId, expected);
      if (problem) return broken(problem);
    }
    prev = e.chainHash;
  }
  if (f.finalChainHash !== prev) {
    return { ok: false, brokenAt: f.events.length, reason: "final chain hash does not match the last event" };
  }
  return { ok: true, events: f.events.length, finalChainHash: prev };
}

function checkContent(e: Record<string, unknown>, sessionId: string, version: number): string | null {
  const c = e.content;
  if (typeof c !== "object" || c === null || Array.isArray(c)) return "content is not an object";
  const content = c as Record<string, unknown>;
  if (content.sessionId !== sessionId) return "content belongs to another session";
  if (content.version !== version) return "content version does not match the entry";
  if (e.type !== undefined && e.type !== content.type) return "type does not match the content";
  if (e.at !== undefined && e.at !== content.at) return "time does not match the content";
  const payload = content.payload;
  if (typeof payload === "object" && payload !== null && Object.values(payload).some(isSealedValue)) {
    return "content holds a sealed field; only the public part belongs in content";
  }
  let publicHash: string;
  try {
    publicHash = sha256Hex(canonicalJson(content));
  } catch {
    return "content cannot be hashed as canonical JSON";
  }
  if (e.publicHash !== undefined && e.publicHash !== publicHash)
    return "content does not match its public hash";
  const sealedHash = e.sealedHash ?? "";
  if (typeof sealedHash !== "string" || (sealedHash !== "" && !HEX64.test(sealedHash))) {
    return "sealed hash is malformed";
  }
  if (digestFromParts(publicHash, sealedHash) !== e.digest) return "content does not match the digest";
  return null;
}
