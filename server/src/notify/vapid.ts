// The server's VAPID key pair (RFC 8292): browsers subscribe with its public half, and every Web Push request
// carries a JWT signed with its private half, so a push service knows the request comes from the server the
// subscription was made for. From VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY when both are set; otherwise from
// <dataDir>/vapid.json, generated with mode 0600 on first start (the pattern of src/store/signing.ts).
// A new key pair makes every existing subscription useless: browsers must subscribe again.
import { createECDH } from "node:crypto";
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import webpush from "web-push";

export const VAPID_KEY_FILE = "vapid.json";

export interface VapidKeys {
  /** base64url, the uncompressed P-256 point (65 bytes) */
  publicKey: string;
  /** base64url, the P-256 private scalar (32 bytes) */
  privateKey: string;
}

/**
 * The configured key pair (both halves set), or the one in `<dataDir>/vapid.json`, generated there (mode 0600)
 * when absent, with one `log` line saying so. One half without the other, a malformed key, or halves that are
 * not one pair is an error whose message never holds a key.
 */
export function loadOrCreateVapidKeys(opts: {
  publicKey?: string;
  privateKey?: string;
  dataDir: string;
  log?: (msg: string) => void;
}): VapidKeys {
  const publicKey = opts.publicKey?.trim() || undefined;
  const privateKey = opts.privateKey?.trim() || undefined;
  if (publicKey && privateKey)
    return checkPair({ publicKey, privateKey }, "VAPID_PUBLIC_KEY/VAPID_PRIVATE_KEY");
  if (publicKey || privateKey) {
    const [set, unset] = publicKey
      ? ["VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"]
      : ["VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY"];
    throw new Error(
      `${set} is set but ${unset} is not: set both (a pair from \`npx web-push generate-vapid-keys\`), or neither to use <DATA_DIR>/${VAPID_KEY_FILE}`,
    );
  }

  const path = join(opts.dataDir, VAPID_KEY_FILE);
  if (existsSync(path)) return readKeyFile(path);

  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const generated = webpush.generateVAPIDKeys();
  const keys: VapidKeys = { publicKey: generated.publicKey, privateKey: generated.privateKey };
  // Private temp file, then link into place: a racing process that loses reads the winner's keys.
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  try {
    chmodSync(tmp, 0o600);
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return readKeyFile(path);
    throw err;
  } finally {
    unlinkSync(tmp);
  }
  (opts.log ?? console.warn)(
    `generated a new VAPID key pair at ${path}; set VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY in production (a new pair makes every browser subscribe again)`,
  );
  return keys;
}

function readKeyFile(path: string): VapidKeys {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw new Error(
      `malformed VAPID key file ${path}: expected JSON {"publicKey": "...", "privateKey": "..."}`,
    );
  }
  const p = parsed as Partial<Record<keyof VapidKeys, unknown>> | null;
  if (typeof p?.publicKey !== "string" || typeof p?.privateKey !== "string") {
    throw new Error(
      `malformed VAPID key file ${path}: expected JSON {"publicKey": "...", "privateKey": "..."}`,
    );
  }
  return checkPair({ publicKey: p.publicKey, privateKey: p.privateKey }, path);
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Both halves well formed, and the public half is the private half's point. Messages never hold a key. */
function checkPair(keys: VapidKeys, source: string): VapidKeys {
  const pub = BASE64URL.test(keys.publicKey) ? Buffer.from(keys.publicKey, "base64url") : Buffer.alloc(0);
  if (pub.length !== 65 || pub[0] !== 0x04) {
    throw new Error(
      `malformed VAPID public key in ${source}: expected base64url of a 65-byte uncompressed P-256 point`,
    );
  }
  const priv = BASE64URL.test(keys.privateKey) ? Buffer.from(keys.privateKey, "base64url") : Buffer.alloc(0);
  if (priv.length !== 32) {
    throw new Error(`malformed VAPID private key in ${source}: expected base64url of a 32-byte P-256 key`);
  }
  let derived: Buffer;
  try {
    const ecdh = createECDH("prime256v1");
    ecdh.setPrivateKey(priv);
    derived = ecdh.getPublicKey();
  } catch {
    throw new Error(`malformed VAPID private key in ${source}: not a valid P-256 key`);
  }
  if (!derived.equals(pub)) {
    throw new Error(`the VAPID keys in ${source} are not one pair: the public key is not the private key's`);
  }
  return { publicKey: keys.publicKey, privateKey: keys.privateKey };
}
