// The server's audit signing key (Ed25519). Every stream head a party receives is signed with it, so a party can
// later prove what the server said, and an audit export can be checked against heads the party saved. The public
// half is published (GET /api/audit/key); the private half never leaves the server.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Role } from "@backchannel/common";
import { canonicalJson } from "./canonical-json";
import { randomPooled } from "./crypto";

export const SIGNING_KEY_FILE = "audit-signing-key.pem";
const HEAD_FORMAT = "backchannel-head/1";
const COMMIT_FORMAT = "backchannel-commit/1";
const LEAF_FORMAT = "backchannel-leaf/1";
/** A commit signature's leaves, one per stream, in this order. */
export const LEAF_ORDER: readonly Role[] = ["claimant", "respondent", "mediator"];
const SALT_BYTES = 32;

/**
 * A stream head as a party receives it: the position, the chain hash after it, and the server's signature. Either
 * signed alone (headMessage), or with the other streams' heads of the same commit (commitMessage: `salt` and
 * `leaves` present), which costs one signature per commit instead of one per stream.
 */
export interface SignedHead {
  sessionId: string;
  /** the role whose stream this is */
  stream: Role;
  position: number;
  head: string;
  /** base64url Ed25519 signature of headMessage(...), or of commitMessage(...) when `leaves` is present */
  signature: string;
  /** which key signed it (see publicKeyId) */
  keyId: string;
  /** commit-signed heads: 32 random bytes (hex) that blind this head's leaf, given only to this stream's members */
  salt?: string;
  /** commit-signed heads: leafOf(...) of each stream's head at the commit, in LEAF_ORDER */
  leaves?: string[];
}

export type StreamHeadAt = { position: number; head: string };

export interface HeadSigner {
  keyId: string;
  /** SPKI PEM of the public half */
  publicKeyPem: string;
  sign(head: Omit<SignedHead, "signature" | "keyId" | "salt" | "leaves">): SignedHead;
  /**
   * The three streams' heads after one commit, under one signature: each stream's head gets a fresh random salt, the
   * signature covers the three salted leaves, and each stream's members receive their own head and salt with the
   * leaves. Another stream's leaf is a hash with 256 random bits in it: it tells nothing of that stream's head (whose
   * chain covers the other side's number), and as every commit salts all three afresh, not even whether it moved.
   */
  signCommit(sessionId: string, heads: Readonly<Record<Role, StreamHeadAt>>): Record<Role, SignedHead>;
}

/** The exact bytes a head signature covers. */
export function headMessage(h: {
  sessionId: string;
  stream: string;
  position: number;
  head: string;
}): Buffer {
  return Buffer.from(
    canonicalJson({
      format: HEAD_FORMAT,
      sessionId: h.sessionId,
      stream: h.stream,
      position: h.position,
      head: h.head,
    }),
    "utf8",
  );
}

/** A stream's leaf in a commit signature: the hash of its head, position and salt. */
export function leafOf(h: {
  sessionId: string;
  stream: string;
  position: number;
  head: string;
  salt: string;
}): string {
  return createHash("sha256")
    .update(
      canonicalJson({
        format: LEAF_FORMAT,
        sessionId: h.sessionId,
        stream: h.stream,
        position: h.position,
        head: h.head,
        salt: h.salt,
      }),
    )
    .digest("hex");
}

/** The exact bytes a commit signature covers. */
export function commitMessage(sessionId: string, leaves: readonly string[]): Buffer {
  return Buffer.from(canonicalJson({ format: COMMIT_FORMAT, sessionId, leaves: [...leaves] }), "utf8");
}

/** A short, stable name for a public key: the first 16 hex digits of the SHA-256 of its DER form. */
export function publicKeyId(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex")
    .slice(0, 16);
}

export function createHeadSigner(privateKey: KeyObject): HeadSigner {
  const publicKey = createPublicKey(privateKey);
  const keyId = publicKeyId(publicKey);
  return {
    keyId,
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    sign(h) {
      const signature = sign(null, headMessage(h), privateKey).toString("base64url");
      return { ...h, signature, keyId };
    },
    signCommit(sessionId, heads) {
      const salted = LEAF_ORDER.map((stream) => {
        const { position, head } = heads[stream];
        const salt = randomPooled(SALT_BYTES).toString("hex");
        return { sessionId, stream, position, head, salt };
      });
      const leaves = salted.map(leafOf);
      const signature = sign(null, commitMessage(sessionId, leaves), privateKey).toString("base64url");
      const out = {} as Record<Role, SignedHead>;
      for (const h of salted) out[h.stream] = { ...h, signature, keyId, leaves };
      return out;
    },
  };
}

/**
 * True when `signature` is the given public key's signature of this head: alone, or (with `salt` and `leaves`) as
 * its stream's leaf among a commit's. Never throws on malformed input.
 */
export function verifyHead(publicKeyPem: string, h: SignedHead): boolean {
  try {
    const signature = Buffer.from(h.signature, "base64url");
    if (h.leaves === undefined && h.salt === undefined)
      return verify(null, headMessage(h), createPublicKey(publicKeyPem), signature);
    const { leaves, salt } = h;
    const at = LEAF_ORDER.indexOf(h.stream);
    if (!Array.isArray(leaves) || leaves.length !== LEAF_ORDER.length || typeof salt !== "string" || at < 0)
      return false;
    if (leaves[at] !== leafOf({ ...h, salt })) return false;
    return verify(null, commitMessage(h.sessionId, leaves), createPublicKey(publicKeyPem), signature);
  } catch {
    return false;
  }
}

/**
 * AUDIT_SIGNING_KEY (a PKCS#8 PEM Ed25519 private key, literal newlines or "\n") if set; otherwise
 * `<dataDir>/audit-signing-key.pem`, generated with mode 0600 on first start.
 */
export function loadOrCreateSigningKey(opts: {
  signingKeyEnv?: string;
  dataDir: string;
  log: (msg: string) => void;
}): HeadSigner {
  const fromEnv = opts.signingKeyEnv?.trim();
  if (fromEnv) return createHeadSigner(parseSigningKey(fromEnv.replaceAll("\\n", "\n"), "AUDIT_SIGNING_KEY"));

  const path = join(opts.dataDir, SIGNING_KEY_FILE);
  if (existsSync(path)) return createHeadSigner(parseSigningKey(readFileSync(path, "utf8"), path));

  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync("ed25519");
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  // Private temp file, then link into place: a racing process that loses reads the winner's key.
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, pem, { mode: 0o600, flag: "wx" });
  try {
    chmodSync(tmp, 0o600);
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST")
      return createHeadSigner(parseSigningKey(readFileSync(path, "utf8"), path));
    throw err;
  } finally {
    unlinkSync(tmp);
  }
  opts.log(`generated a new audit signing key at ${path}; set AUDIT_SIGNING_KEY in production`);
  return createHeadSigner(privateKey);
}

function parseSigningKey(pem: string, source: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new Error(`malformed audit signing key in ${source}: expected a PKCS#8 PEM Ed25519 private key`);
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new Error(`audit signing key in ${source} is ${key.asymmetricKeyType}; it must be Ed25519`);
  }
  return key;
}
