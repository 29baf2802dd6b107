import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  decryptValue,
  encryptValue,
  loadOrCreateMasterKey,
  MASTER_KEY_FILE,
  newDataKey,
  randomPooled,
  unwrapKey,
  wrapKey,
} from "../../src/store/crypto";

const SEALED_FORMAT = /^v1\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+$/;

describe("data key wrapping", () => {
  const master = newDataKey();

  it("round-trips a data key in the v1.<iv>.<tag>.<ct> format with a fresh 12-byte IV", () => {
    const dataKey = newDataKey();
    const wrapped = wrapKey(master, dataKey);
    expect(wrapped).toMatch(SEALED_FORMAT);
    expect(Buffer.from(wrapped.split(".")[1]!, "base64")).toHaveLength(12);
    expect(Buffer.from(wrapped.split(".")[2]!, "base64")).toHaveLength(16);
    expect(unwrapKey(master, wrapped).equals(dataKey)).toBe(true);
    expect(wrapKey(master, dataKey)).not.toBe(wrapped);
  });

  it("refuses the wrong master key and a tampered wrapped key", () => {
    const wrapped = wrapKey(master, newDataKey());
    expect(() => unwrapKey(newDataKey(), wrapped)).toThrow(/cannot decrypt data key/);
    const [v, iv, tag, ct] = wrapped.split(".") as [string, string, string, string];
    const flipped = Buffer.from(ct, "base64");
    flipped[0] = flipped[0]! ^ 1;
    expect(() => unwrapKey(master, [v, iv, tag, flipped.toString("base64")].join("."))).toThrow(
      /cannot decrypt/,
    );
    expect(() => unwrapKey(master, "v2.a.b.c")).toThrow(/not a v1 ciphertext/);
  });

  it("refuses keys of the wrong length", () => {
    expect(() => wrapKey(Buffer.alloc(16), newDataKey())).toThrow(/32 bytes/);
    expect(() => wrapKey(master, Buffer.alloc(31))).toThrow(/32 bytes/);
  });
});

describe("value encryption", () => {
  const dataKey = newDataKey();

  it("round-trips JSON values", () => {
    for (const value of [73914205, 0, "text", { amount: 5, currency: "USD" }, [1, 2], null]) {
      expect(decryptValue(dataKey, encryptValue(dataKey, value, "s:1:amount"), "s:1:amount")).toEqual(value);
    }
  });

  it("never shows the plaintext and differs on every encryption of the same value", () => {
    const a = encryptValue(dataKey, 73914205, "s:1:amount");
    const b = encryptValue(dataKey, 73914205, "s:1:amount");
    expect(a).toMatch(SEALED_FORMAT);
    expect(a).not.toBe(b);
    expect(a).not.toContain("73914205");
  });

  it("fails with the wrong key, with a vague message that holds no input", () => {
    const sealed = encryptValue(dataKey, 73914205, "s:1:amount");
    let message = "";
    try {
      decryptValue(newDataKey(), sealed, "s:1:amount");
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/wrong key, wrong context, or tampered ciphertext/);
    expect(message).not.toContain("73914205");
    expect(message).not.toContain(sealed);
  });

  it("fails when the aad differs: a ciphertext cannot move to another event or field", () => {
    const sealed = encryptValue(dataKey, 73914205, "s:1:amount");
    expect(() => decryptValue(dataKey, sealed, "s:2:amount")).toThrow(/cannot decrypt value/);
    expect(() => decryptValue(dataKey, sealed, "s:1:other")).toThrow(/cannot decrypt value/);
  });

  it("keeps wrapped keys and sealed values apart", () => {
    const master = newDataKey();
    const wrapped = wrapKey(master, dataKey);
    expect(() => decryptValue(master, wrapped, "")).toThrow(/cannot decrypt/);
    expect(() => unwrapKey(dataKey, encryptValue(dataKey, 1, ""))).toThrow(/cannot decrypt/);
  });

  it("refuses a value with no JSON form", () => {
    expect(() => encryptValue(dataKey, undefined, "x")).toThrow(/no JSON form/);
  });
});

describe("loadOrCreateMasterKey", () => {
  const dirs: string[] = [];
  const freshDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "bc-master-key-"));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("generates a key file with mode 0600, logs where, and never logs the key", () => {
    const dataDir = join(freshDir(), "nested", "data");
    const logs: string[] = [];
    const key = loadOrCreateMasterKey({ dataDir, log: (m) => logs.push(m) });
    const path = join(dataDir, MASTER_KEY_FILE);
    expect(key).toHaveLength(32);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(path, "utf8").trim(), "base64").equals(key)).toBe(true);
    expect(logs).toEqual([`generated a new master key at ${path}; set MASTER_KEY in production`]);
    expect(logs.join("\n")).not.toContain(key.toString("base64"));
    expect(logs.join("\n")).not.toContain(key.toString("hex"));
  });

  it("reuses the key file on the next start without logging", () => {
    const dataDir = freshDir();
    const first = loadOrCreateMasterKey({ dataDir, log: () => {} });
    const logs: string[] = [];
    const second = loadOrCreateMasterKey({ dataDir, log: (m) => logs.push(m) });
    expect(second.equals(first)).toBe(true);
    expect(logs).toEqual([]);
  });

  it("accepts MASTER_KEY as base64 or hex, ahead of any key file", () => {
    const dataDir = freshDir();
    loadOrCreateMasterKey({ dataDir, log: () => {} });
    const key = newDataKey();
    const log = () => {};
    expect(loadOrCreateMasterKey({ masterKeyEnv: key.toString("base64"), dataDir, log }).equals(key)).toBe(
      true,
    );
    expect(loadOrCreateMasterKey({ masterKeyEnv: key.toString("hex"), dataDir, log }).equals(key)).toBe(true);
    expect(
      loadOrCreateMasterKey({ masterKeyEnv: ` ${key.toString("hex")}\n`, dataDir, log }).equals(key),
    ).toBe(true);
  });

  it("refuses a malformed MASTER_KEY without echoing it", () => {
    const dataDir = freshDir();
    const log = () => {};
    const short = newDataKey().subarray(0, 16).toString("base64");
    for (const bad of [
      short,
      "not base64 at all!!",
      "ab".repeat(31),
      `${newDataKey().toString("base64")}AAAA`,
    ]) {
      let message = "";
      try {
        loadOrCreateMasterKey({ masterKeyEnv: bad, dataDir, log });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/malformed master key in MASTER_KEY/);
      expect(message).not.toContain(bad);
    }
  });

  it("refuses a malformed key file, naming the file", () => {
    const dataDir = freshDir();
    const path = join(dataDir, MASTER_KEY_FILE);
    writeFileSync(path, "too short\n", { mode: 0o600 });
    expect(() => loadOrCreateMasterKey({ dataDir, log: () => {} })).toThrow(
      `malformed master key in ${path}`,
    );
  });

  it("warns when the key file is readable by other users", () => {
    const dataDir = freshDir();
    writeFileSync(join(dataDir, MASTER_KEY_FILE), newDataKey().toString("base64"), { mode: 0o644 });
    const logs: string[] = [];
    loadOrCreateMasterKey({ dataDir, log: (m) => logs.push(m) });
    expect(logs.join("\n")).toMatch(/readable by other users \(mode 644\)/);
  });
});

describe("randomPooled", () => {
  it("never hands out the same bytes twice, across many refills of its block", () => {
    const seen = new Set<string>();
    let total = 0;
    // 12-byte IVs, 16-byte salts and odd sizes, over ~10 blocks: a slice served twice, or a block not refilled,
    // shows as a repeat.
    for (let i = 0; total < 40_000; i++) {
      const size = [12, 16, 1, 33][i % 4] as number;
      const bytes = randomPooled(size);
      expect(bytes.length).toBe(size);
      total += size;
      if (size >= 12) {
        const hex = bytes.toString("hex");
        expect(seen.has(hex)).toBe(false);
        seen.add(hex);
      }
    }
  });

  it("serves sizes beyond its block", () => {
    expect(randomPooled(10_000).length).toBe(10_000);
  });
});
