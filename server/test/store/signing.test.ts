import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  commitMessage,
  createHeadSigner,
  headMessage,
  LEAF_ORDER,
  leafOf,
  loadOrCreateSigningKey,
  publicKeyId,
  SIGNING_KEY_FILE,
  verifyHead,
} from "../../src/store/signing";

const root = mkdtempSync(join(tmpdir(), "bc-signing-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function freshDir(): string {
  return join(root, randomUUID(), "data");
}

function pkcs8(type: "ed25519" | "ec" | "rsa" | "x25519"): string {
  const { privateKey } =
    type === "ec"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : type === "rsa"
        ? generateKeyPairSync("rsa", { modulusLength: 2048 })
        : type === "x25519"
          ? generateKeyPairSync("x25519")
          : generateKeyPairSync("ed25519");
  return privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}

/** The base64 body lines of a PEM: none of them may appear in an error message. */
function pemBody(pem: string): string[] {
  return pem.split("\n").filter((l) => l && !l.startsWith("-----"));
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a throw");
}

const head = { sessionId: randomUUID(), stream: "claimant" as const, position: 3, head: "ab".repeat(32) };

describe("audit signing key", () => {
  it("generates a 0600 key file in the data dir on first start, and reuses it", () => {
    const dataDir = freshDir();
    const logs: string[] = [];
    const first = loadOrCreateSigningKey({ dataDir, log: (m) => logs.push(m) });
    const path = join(dataDir, SIGNING_KEY_FILE);

    expect(existsSync(path)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(readdirSync(dataDir)).toEqual([SIGNING_KEY_FILE]); // no temp file left behind
    expect(logs).toEqual([expect.stringContaining(`generated a new audit signing key at ${path}`)]);
    // The log line names the file, never the key.
    for (const line of pemBody(readFileSync(path, "utf8"))) expect(logs.join("\n")).not.toContain(line);

    const again = loadOrCreateSigningKey({ dataDir, log: (m) => logs.push(m) });
    expect(logs).toHaveLength(1);
    expect(again.keyId).toBe(first.keyId);
    expect(again.publicKeyPem).toBe(first.publicKeyPem);
    // A head signed before a restart verifies with the key after it.
    expect(verifyHead(again.publicKeyPem, first.sign(head))).toBe(true);
    expect(readdirSync(dataDir)).toEqual([SIGNING_KEY_FILE]);

    // Another data dir is another key.
    expect(loadOrCreateSigningKey({ dataDir: freshDir(), log: () => {} }).keyId).not.toBe(first.keyId);
  });

  it("accepts AUDIT_SIGNING_KEY as a PEM with literal \\n, and then writes no key file", () => {
    const pem = pkcs8("ed25519");
    const oneLine = pem.trim().replaceAll("\n", "\\n");
    expect(oneLine).not.toContain("\n");
    const expectedId = publicKeyId(createPublicKey(createPrivateKey(pem)));

    const dataDir = freshDir();
    const logs: string[] = [];
    const fromEnv = loadOrCreateSigningKey({ signingKeyEnv: oneLine, dataDir, log: (m) => logs.push(m) });
    expect(fromEnv.keyId).toBe(expectedId);
    expect(fromEnv.publicKeyPem).toBe(
      createPublicKey(createPrivateKey(pem)).export({ type: "spki", format: "pem" }),
    );
    // Real newlines (and surrounding blank lines) work as well.
    const withNewlines = loadOrCreateSigningKey({ signingKeyEnv: `\n${pem}\n`, dataDir, log: () => {} });
    expect(withNewlines.keyId).toBe(expectedId);
    expect(verifyHead(withNewlines.publicKeyPem, fromEnv.sign(head))).toBe(true);
    // The environment wins over the data dir, which is left untouched.
    expect(existsSync(dataDir)).toBe(false);
    expect(logs).toEqual([]);
  });

  it("refuses a key that is not Ed25519, without printing the key", () => {
    for (const type of ["ec", "rsa", "x25519"] as const) {
      const pem = pkcs8(type);
      for (const signingKeyEnv of [pem, pem.trim().replaceAll("\n", "\\n")]) {
        const err = errorOf(() =>
          loadOrCreateSigningKey({ signingKeyEnv, dataDir: freshDir(), log: () => {} }),
        );
        expect(err.message).toMatch(/AUDIT_SIGNING_KEY .*must be Ed25519/);
        expect(err.message).not.toContain("PRIVATE KEY");
        for (const line of pemBody(pem)) expect(err.message).not.toContain(line);
      }
    }
    // The same for a key file in the data dir.
    const dataDir = freshDir();
    loadOrCreateSigningKey({ dataDir, log: () => {} });
    const pem = pkcs8("ec");
    writeFileSync(join(dataDir, SIGNING_KEY_FILE), pem);
    const err = errorOf(() => loadOrCreateSigningKey({ dataDir, log: () => {} }));
    expect(err.message).toMatch(/must be Ed25519/);
    for (const line of pemBody(pem)) expect(err.message).not.toContain(line);
  });

  it("refuses a malformed key without printing it", () => {
    const pem = pkcs8("ed25519");
    const broken = pem.replace(/\n([A-Za-z0-9+/]{10})/, "\n!!!!!!!!!!");
    for (const signingKeyEnv of [
      broken,
      "not a key at all: s3cr3t-value",
      pem.replace("PRIVATE", "PUBLIC"),
    ]) {
      const err = errorOf(() =>
        loadOrCreateSigningKey({ signingKeyEnv, dataDir: freshDir(), log: () => {} }),
      );
      expect(err.message).toMatch(/malformed audit signing key in AUDIT_SIGNING_KEY/);
      expect(err.message).not.toContain("s3cr3t");
      for (const line of pemBody(pem)) expect(err.message).not.toContain(line);
    }
  });
});

describe("signed heads", () => {
  const signer = createHeadSigner(generateKeyPairSync("ed25519").privateKey);

  it("signs exactly the session, stream, position and head", () => {
    const signed = signer.sign(head);
    expect(signed).toEqual({
      ...head,
      signature: expect.stringMatching(/^[A-Za-z0-9_-]+$/),
      keyId: signer.keyId,
    });
    expect(verifyHead(signer.publicKeyPem, signed)).toBe(true);
    expect(JSON.parse(headMessage(head).toString("utf8"))).toEqual({ format: "backchannel-head/1", ...head });

    for (const changed of [
      { sessionId: randomUUID() },
      { stream: "respondent" as const },
      { position: 4 },
      { head: "cd".repeat(32) },
    ]) {
      expect(verifyHead(signer.publicKeyPem, { ...signed, ...changed })).toBe(false);
    }
  });

  it("does not verify with another key, and never throws on malformed input", () => {
    const signed = signer.sign(head);
    const other = createHeadSigner(generateKeyPairSync("ed25519").privateKey);
    expect(other.keyId).not.toBe(signer.keyId);
    expect(verifyHead(other.publicKeyPem, signed)).toBe(false);
    expect(verifyHead(signer.publicKeyPem, { ...signed, signature: "" })).toBe(false);
    expect(verifyHead(signer.publicKeyPem, { ...signed, signature: "%%%" })).toBe(false);
    expect(verifyHead(signer.publicKeyPem, { ...signed, signature: undefined as unknown as string })).toBe(
      false,
    );
    expect(verifyHead("not a pem", signed)).toBe(false);
    expect(verifyHead(signer.publicKeyPem, null as never)).toBe(false);
  });
});

describe("heads signed per commit", () => {
  const signer = createHeadSigner(generateKeyPairSync("ed25519").privateKey);
  const sessionId = randomUUID();
  const heads = {
    claimant: { position: 7, head: "a1".repeat(32) },
    respondent: { position: 5, head: "b2".repeat(32) },
    mediator: { position: 0, head: "0".repeat(64) },
  };

  it("signs the three streams' salted leaves once; each head verifies as its own stream's, and only as that", () => {
    const signed = signer.signCommit(sessionId, heads);
    for (const stream of LEAF_ORDER) {
      const h = signed[stream];
      expect(h).toEqual({
        sessionId,
        stream,
        ...heads[stream],
        salt: expect.stringMatching(/^[0-9a-f]{64}$/),
        leaves: signed.claimant.leaves,
        signature: signed.claimant.signature,
        keyId: signer.keyId,
      });
      expect(h.leaves?.[LEAF_ORDER.indexOf(stream)]).toBe(leafOf({ ...h, salt: h.salt as string }));
      expect(verifyHead(signer.publicKeyPem, h)).toBe(true);
    }
    expect(JSON.parse(commitMessage(sessionId, signed.claimant.leaves as string[]).toString("utf8"))).toEqual(
      {
        format: "backchannel-commit/1",
        sessionId,
        leaves: signed.claimant.leaves,
      },
    );
    const c = signed.claimant;
    for (const changed of [
      { sessionId: randomUUID() },
      { stream: "respondent" as const },
      { position: 8 },
      { head: heads.respondent.head },
      { salt: signed.respondent.salt },
      { salt: undefined },
      { leaves: [...(c.leaves as string[])].reverse() },
      { leaves: (c.leaves as string[]).slice(0, 2) },
      { leaves: undefined },
      { signature: signer.sign(heads.claimant as never).signature },
    ]) {
      expect(verifyHead(signer.publicKeyPem, { ...c, ...changed })).toBe(false);
    }
    const other = createHeadSigner(generateKeyPairSync("ed25519").privateKey);
    expect(verifyHead(other.publicKeyPem, c)).toBe(false);
  });

  it("salts afresh on every commit: a leaf says nothing of its head, not even whether it moved", () => {
    const a = signer.signCommit(sessionId, heads);
    const b = signer.signCommit(sessionId, heads);
    for (const [i, stream] of LEAF_ORDER.entries()) {
      expect(a[stream].salt).not.toBe(b[stream].salt);
      expect(a.claimant.leaves?.[i]).not.toBe(b.claimant.leaves?.[i]);
      // Neither the head nor its unsalted leaf is what another stream receives.
      expect(a.claimant.leaves?.[i]).not.toBe(heads[stream].head);
      expect(a.claimant.leaves?.[i]).not.toBe(leafOf({ sessionId, stream, ...heads[stream], salt: "" }));
    }
  });
});
