// Encryption at rest for confidential numbers. Key hierarchy: one server master key (env or file)
// wraps one random data key per session; the data key seals the confidential fields of that
// session's events. Erasing the wrapped data key makes those fields unrecoverable ("shredding").
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = "v1";
// Binds a wrapped key to its purpose, so a sealed value can never be unwrapped as a key or vice versa.
const WRAP_AAD = "backchannel/data-key/v1";
const VALUE_AAD_PREFIX = "backchannel/value/v1:";

export const MASTER_KEY_FILE = "master.key";

/**
 * MASTER_KEY (base64 of 32 bytes, or 64 hex chars) if set; otherwise `<dataDir>/master.key`,
 * generated with mode 0600 on first start. Throws on a malformed key; never logs the key itself.
 */
export function loadOrCreateMasterKey(opts: {
  masterKeyEnv?: string;
  dataDir: string;
  log: (msg: string) => void;
}): Buffer {
  // An empty MASTER_KEY is how container env files usually spell "unset".
  const fromEnv = opts.masterKeyEnv?.trim();
  if (fromEnv) return parseMasterKey(fromEnv, "MASTER_KEY");

  const path = join(opts.dataDir, MASTER_KEY_FILE);
  if (existsSync(path)) return readMasterKeyFile(path, opts.log);

  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(KEY_BYTES);
  // Write to a private temp file, then link it into place: link fails if another process won the
  // race, and a reader never sees a half-written key.
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  writeFileSync(tmp, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  try {
    chmodSync(tmp, 0o600);
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return readMasterKeyFile(path, opts.log);
    throw err;
  } finally {
    unlinkSync(tmp);
  }
  opts.log(`generated a new master key at ${path}; set MASTER_KEY in production`);
  return key;
}

function readMasterKeyFile(path: string, log: (msg: string) => void): Buffer {
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077)
    log(`master key file ${path} is readable by other users (mode ${mode.toString(8)}); chmod 600 it`);
  return parseMasterKey(readFileSync(path, "utf8").trim(), path);
}

function parseMasterKey(text: string, source: string): Buffer {
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(text)) key = Buffer.from(text, "hex");
  else if (/^[A-Za-z0-9+/]{43}=?$/.test(text)) key = Buffer.from(text, "base64");
  if (key?.length !== KEY_BYTES) {
    // The message names the source and the expected form only: a near-miss key is still a secret.
    throw new Error(
      `malformed master key in ${source}: expected 32 bytes as base64 (44 chars) or hex (64 chars), ` +
        `got ${text.length} characters`,
    );
  }
  return key;
}

export function newDataKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

export function wrapKey(master: Buffer, dataKey: Buffer): string {
  assertKey(dataKey, "data key");
  return seal(master, dataKey, WRAP_AAD);
}

export function unwrapKey(master: Buffer, wrapped: string): Buffer {
  const key = open(master, wrapped, WRAP_AAD, "data key");
  assertKey(key, "unwrapped data key");
  return key;
}

/** Seals a JSON value; `aad` names where the value belongs, so it cannot be replayed elsewhere. */
export function encryptValue(dataKey: Buffer, value: unknown, aad: string): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new Error("encryptValue: value has no JSON form");
  return seal(dataKey, Buffer.from(json, "utf8"), VALUE_AAD_PREFIX + aad);
}

export function decryptValue(dataKey: Buffer, sealed: string, aad: string): unknown {
  return JSON.parse(open(dataKey, sealed, VALUE_AAD_PREFIX + aad, "value").toString("utf8"));
}

/**
 * Random bytes for IVs and salts, served from a 4 KiB block of the CSPRNG's output refilled as it runs out: each
 * `randomBytes` call costs ~5 us here whatever its size (a Step 2 close seals a handful of values), a slice of the
 * block a fraction of that. Every byte is used once. Keys still come from `randomBytes` directly.
 */
export function randomPooled(size: number): Buffer {
  if (size > POOL_BYTES) return randomBytes(size);
  if (poolOffset + size > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  // A copy: the caller owns its bytes, and the block is never handed out twice.
  const out = Buffer.from(pool.subarray(poolOffset, poolOffset + size));
  poolOffset += size;
  return out;
}
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function seal(key: Buffer, plaintext: Buffer, aad: string): string {
  assertKey(key, "key");
  const iv = randomPooled(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return [FORMAT, iv.toString("base64"), cipher.getAuthTag().toString("base64"), ct.toString("base64")].join(
    ".",
  );
}

function open(key: Buffer, sealed: string, aad: string, what: string): Buffer {
  assertKey(key, "key");
  const parts = typeof sealed === "string" ? sealed.split(".") : [];
  const [format, ivB64, tagB64, ctB64] = parts;
  if (
    parts.length !== 4 ||
    format !== FORMAT ||
    ivB64 === undefined ||
    tagB64 === undefined ||
    ctB64 === undefined
  ) {
    throw new Error(`cannot decrypt ${what}: not a ${FORMAT} ciphertext`);
  }
  const iv = Buffer.from(ivB64, "base64");
  const tag = Buffer.from(tagB64, "base64");
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES)
    throw new Error(`cannot decrypt ${what}: malformed ciphertext`);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(ctB64, "base64")), decipher.final()]);
  } catch {
    // Deliberately vague and free of inputs: the caller learns only that authentication failed.
    throw new Error(`cannot decrypt ${what}: wrong key, wrong context, or tampered ciphertext`);
  }
}

function assertKey(key: Buffer, what: string): void {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES)
    throw new Error(`${what} must be ${KEY_BYTES} bytes`);
}
