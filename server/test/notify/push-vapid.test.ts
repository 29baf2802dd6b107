// The VAPID key pair: from VAPID_PUBLIC_KEY + VAPID_PRIVATE_KEY, else <dataDir>/vapid.json made once with mode 0600.
import { randomUUID } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import webpush from "web-push";
import { loadOrCreateVapidKeys, VAPID_KEY_FILE } from "../../src/notify/vapid";

const root = mkdtempSync(join(tmpdir(), "bc-vapid-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const freshDir = () => join(root, randomUUID(), "data");

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a throw");
}

describe("VAPID keys", () => {
  it("generates a 0600 vapid.json in the data folder on first start, says so once, and reuses it", () => {
    const dataDir = freshDir();
    const logs: string[] = [];
    const first = loadOrCreateVapidKeys({ dataDir, log: (m) => logs.push(m) });
    const path = join(dataDir, VAPID_KEY_FILE);

    expect(existsSync(path)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dataDir)).toEqual([VAPID_KEY_FILE]); // no temp file left behind
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(first);
    expect(Buffer.from(first.publicKey, "base64url")).toHaveLength(65);
    expect(Buffer.from(first.privateKey, "base64url")).toHaveLength(32);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toContain(path);
    expect(logs[0]).toContain("VAPID_PUBLIC_KEY");
    expect(logs[0]).not.toContain(first.privateKey);

    const again = loadOrCreateVapidKeys({ dataDir, log: (m) => logs.push(m) });
    expect(again).toEqual(first);
    expect(logs).toHaveLength(1);
    // The pair signs a VAPID header web-push accepts.
    expect(() =>
      webpush.getVapidHeaders(
        "https://push.example",
        "mailto:a@b.example",
        first.publicKey,
        first.privateKey,
        "aes128gcm",
      ),
    ).not.toThrow();
  });

  it("uses the configured pair when both halves are set, and writes nothing", () => {
    const dataDir = freshDir();
    const pair = webpush.generateVAPIDKeys();
    const logs: string[] = [];
    const keys = loadOrCreateVapidKeys({ ...pair, dataDir, log: (m) => logs.push(m) });
    expect(keys).toEqual(pair);
    expect(existsSync(dataDir)).toBe(false);
    expect(logs).toEqual([]);
  });

  it("refuses one half without the other, naming both variables", () => {
    const pair = webpush.generateVAPIDKeys();
    const onlyPublic = errorOf(() =>
      loadOrCreateVapidKeys({ publicKey: pair.publicKey, dataDir: freshDir() }),
    );
    expect(onlyPublic.message).toMatch(/^VAPID_PUBLIC_KEY is set but VAPID_PRIVATE_KEY is not: set both/);
    const onlyPrivate = errorOf(() =>
      loadOrCreateVapidKeys({ privateKey: pair.privateKey, dataDir: freshDir() }),
    );
    expect(onlyPrivate.message).toMatch(/^VAPID_PRIVATE_KEY is set but VAPID_PUBLIC_KEY is not: set both/);
    expect(onlyPrivate.message).not.toContain(pair.privateKey);
  });

  it("refuses halves of two different pairs and malformed keys, without echoing a key", () => {
    const a = webpush.generateVAPIDKeys();
    const b = webpush.generateVAPIDKeys();
    const mixed = errorOf(() =>
      loadOrCreateVapidKeys({ publicKey: a.publicKey, privateKey: b.privateKey, dataDir: freshDir() }),
    );
    expect(mixed.message).toMatch(/are not one pair/);
    expect(mixed.message).not.toContain(b.privateKey);

    const short = errorOf(() =>
      loadOrCreateVapidKeys({ publicKey: a.publicKey, privateKey: "abc", dataDir: freshDir() }),
    );
    expect(short.message).toMatch(/malformed VAPID private key/);
    const badPublic = errorOf(() =>
      loadOrCreateVapidKeys({ publicKey: "x".repeat(87), privateKey: a.privateKey, dataDir: freshDir() }),
    );
    expect(badPublic.message).toMatch(/malformed VAPID public key/);
  });

  it("refuses a malformed or mismatched vapid.json, naming the file", () => {
    const dataDir = freshDir();
    mkdirSync(dataDir, { recursive: true });
    const path = join(dataDir, VAPID_KEY_FILE);
    writeFileSync(path, "not json");
    expect(errorOf(() => loadOrCreateVapidKeys({ dataDir })).message).toBe(
      `malformed VAPID key file ${path}: expected JSON {"publicKey": "...", "privateKey": "..."}`,
    );
    const a = webpush.generateVAPIDKeys();
    const b = webpush.generateVAPIDKeys();
    writeFileSync(path, JSON.stringify({ publicKey: a.publicKey, privateKey: b.privateKey }));
    const mixed = errorOf(() => loadOrCreateVapidKeys({ dataDir }));
    expect(mixed.message).toContain(path);
    expect(mixed.message).toMatch(/are not one pair/);
  });
});
