// In-memory logs with streams, built the way appendEvents builds them, plus what a forger would do to an export.
import { generateKeyPairSync } from "node:crypto";
import { type AuditExport, buildAuditExport } from "../../src/store/audit";
import {
  advanceStreams,
  chainHash,
  eventDigest,
  GENESIS_HASH,
  initialStreamHeads,
  type StoredEvent,
  type StreamEntry,
  type StreamHeads,
  type StreamName,
  sealPayload,
  streamDigest,
} from "../../src/store/event-log";
import { createHeadSigner, type HeadSigner, type SignedHead } from "../../src/store/signing";
import { sealedFields } from "./fixtures";

export interface PlainEvent {
  type: string;
  at: number;
  actor: string | null;
  payload: Record<string, unknown>;
  streams: readonly StreamName[];
}

/** An event in sealed form, before anything is hashed: what a forger with database access can rewrite. */
export type SealedEvent = PlainEvent;

export interface Log {
  sessionId: string;
  events: Array<StoredEvent & { streams: StreamEntry[] }>;
  heads: StreamHeads;
  /** One stream's rows, as readStream returns them. */
  rows(stream: StreamName): Array<StoredEvent & { entry: StreamEntry }>;
}

export function newSigner(): HeadSigner {
  return createHeadSigner(generateKeyPairSync("ed25519").privateKey);
}

/** Seals each event's confidential fields for its version (1, 2, ...). */
export function sealEvents(sessionId: string, events: PlainEvent[], dataKey: Buffer): SealedEvent[] {
  return events.map((ev, i) => ({
    ...ev,
    payload: JSON.parse(
      JSON.stringify(sealPayload({ ...ev, sessionId, version: i + 1 }, dataKey, sealedFields)),
    ) as Record<string, unknown>,
  }));
}

/** Hashes sealed events into the session chain and the streams, from GENESIS, exactly as appendEvents does. */
export function chainLog(sessionId: string, sealed: SealedEvent[]): Log {
  const heads = initialStreamHeads();
  let prev = GENESIS_HASH;
  const events = sealed.map((ev, i) => {
    const version = i + 1;
    const base = { sessionId, version, type: ev.type, at: ev.at, actor: ev.actor, payload: ev.payload };
    const { digest } = eventDigest(base);
    prev = chainHash(prev, digest);
    const stored: StoredEvent = { ...base, digest, chainHash: prev };
    return { ...stored, streams: advanceStreams(heads, stored, ev.streams) };
  });
  return {
    sessionId,
    events,
    heads,
    rows: (stream) =>
      events.flatMap(({ streams, ...e }) => {
        const entry = streams.find((s) => s.stream === stream);
        return entry ? [{ ...e, entry }] : [];
      }),
  };
}

export function exportStream(log: Log, stream: StreamName, signer: HeadSigner): AuditExport {
  return buildAuditExport({
    sessionId: log.sessionId,
    stream,
    rows: log.rows(stream),
    sealed: sealedFields,
    sign: (h) => signer.sign(h),
    publicKey: { keyId: signer.keyId, pem: signer.publicKeyPem },
    now: new Date(1_732_500_000_000),
  });
}

/** The signed heads a party of `stream` received with the pushes at these positions. */
export function savedHeads(
  log: Log,
  stream: StreamName,
  signer: HeadSigner,
  positions: number[],
): SignedHead[] {
  const rows = log.rows(stream);
  return positions.map((position) => {
    const row = rows[position - 1];
    if (!row) throw new Error(`stream ${stream} has no position ${position}`);
    return signer.sign({ sessionId: log.sessionId, stream, position, head: row.entry.head });
  });
}

/**
 * What a forger holding the signing key does after editing an export: recompute every digest and head from the
 * entries' contents, and sign the new final head. The result is consistent with itself.
 */
export function rechain(file: AuditExport, signer: HeadSigner): AuditExport {
  const out = clone(file);
  let prev = GENESIS_HASH;
  for (const e of out.events) {
    e.digest = streamDigest(e.content, e.sealed, e.anchor);
    e.head = chainHash(prev, e.digest);
    prev = e.head;
  }
  out.head = signer.sign({
    sessionId: out.sessionId,
    stream: out.stream,
    position: out.events.length,
    head: prev,
  });
  out.publicKey = { keyId: signer.keyId, pem: signer.publicKeyPem };
  return out;
}

export function clone<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}

/** Every key of every object in a JSON value, however deep. */
export function allKeys(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(allKeys);
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => [k, ...allKeys(v)]);
  }
  return [];
}
