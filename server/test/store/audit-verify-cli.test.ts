import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { AuditExport } from "../../src/store/audit";
import { newDataKey } from "../../src/store/crypto";
import { leftToNewcomerPass } from "../support/db";
import { chainLog, clone, exportStream, newSigner, rechain, savedHeads, sealEvents } from "./stream-fixtures";

/** Needs no service: .ci/run's first pass leaves it to the newcomer pass (support/db.ts). */
const elsewhere = leftToNewcomerPass("the audit-verify CLI (no service)");

const serverDir = resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "bc-audit-cli-"));

function runCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    // The script `npm run audit:verify` runs, started by node with tsx's loader: the same program without
    // npx's and tsx's launcher processes (about a second per run otherwise).
    execFile(
      process.execPath,
      ["--import", "tsx", "src/store/audit-verify-cli.ts", ...args],
      { cwd: serverDir },
      (err, stdout, stderr) => {
        done({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}

function write(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof value === "string" ? value : JSON.stringify(value));
  return path;
}

// Each run starts node with tsx (a fraction of a second); a test with several runs needs more than the default
// timeout. The tests share nothing but the key files written while collecting (each writes its own files), so
// they run concurrently (each run is a process of its own).
describe.skipIf(elsewhere)("audit-verify CLI", { timeout: 60_000, concurrent: true }, () => {
  const sessionId = randomUUID();
  const signer = newSigner();
  const log = chainLog(
    sessionId,
    sealEvents(
      sessionId,
      [
        {
          type: "SessionCreated",
          at: 1,
          actor: null,
          payload: { title: "T" },
          streams: ["claimant", "mediator"],
        },
        { type: "CaucusMessage", at: 2, actor: null, payload: { text: "m" }, streams: ["mediator"] },
        {
          type: "BidSet",
          at: 3,
          actor: null,
          payload: { side: "claimant", amount: 73914205 },
          streams: ["claimant"],
        },
        { type: "Step2Opened", at: 4, actor: null, payload: {}, streams: ["claimant", "mediator"] },
      ],
      newDataKey(),
    ),
  );
  const file: AuditExport = clone(exportStream(log, "claimant", signer));
  const finalHead = log.heads.claimant.head;
  const keyPath = write("server.pem", signer.publicKeyPem);
  const otherKeyPath = write("other.pem", newSigner().publicKeyPem);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints OK and exits 0 for an intact export", async () => {
    const { code, stdout } = await runCli(write("ok.json", file));
    expect(stdout.trim()).toBe(
      `OK: 3 events, chain intact, head ${finalHead} (signature checked with the file's own key)`,
    );
    expect(code).toBe(0);
  });

  it("exits 0 with --key of the server's key and with saved heads that match", async () => {
    const okPath = write("ok-key.json", file);
    const withKey = await runCli(okPath, "--key", keyPath);
    expect(withKey.stdout.trim()).toBe(
      `OK: 3 events, chain intact, head ${finalHead} (signature verified with the given key)`,
    );
    expect(withKey.code).toBe(0);

    // Saved heads as an array, or as {"heads": [...]} (the web client's download); options in any order.
    const heads = savedHeads(log, "claimant", signer, [1, 2, 3]);
    for (const saved of [heads, { heads }]) {
      const run = await runCli("--heads", write("saved.json", saved), okPath, "--key", keyPath);
      expect(run.stdout.trim()).toBe(
        `OK: 3 events, chain intact, head ${finalHead} (signature verified with the given key, 3 saved head(s) match)`,
      );
      expect(run.code).toBe(0);
    }
  });

  it("prints BROKEN with the position and exits 1 for a tampered export", async () => {
    const tampered = clone(file);
    tampered.events[1]!.content.payload.side = "respondent";
    const { code, stdout } = await runCli(write("broken.json", tampered));
    expect(stdout.trim()).toBe("BROKEN at position 2: content does not match the digest");
    expect(code).toBe(1);
  });

  it("exits 1 when a saved head disagrees with a rewrite that is consistent with itself", async () => {
    const edited = clone(file);
    edited.events[1]!.content.at = 30;
    const forged = rechain(edited, signer);
    const forgedPath = write("forged.json", forged);
    expect((await runCli(forgedPath, "--key", keyPath)).code).toBe(0);

    const saved = write("saved-before.json", { heads: savedHeads(log, "claimant", signer, [1, 3]) });
    const { code, stdout } = await runCli(forgedPath, "--heads", saved, "--key", keyPath);
    expect(stdout.trim()).toBe(
      "BROKEN at position 3: saved head at position 3: does not match the export: the log was changed after it was signed",
    );
    expect(code).toBe(1);
  });

  it("exits 1 for an export signed with another key than the one given with --key", async () => {
    const path = write("resigned.json", rechain(file, newSigner()));
    expect((await runCli(path)).code).toBe(0);
    const wrong = await runCli(path, "--key", keyPath);
    expect(wrong.stdout.trim()).toBe(
      "BROKEN at position 3: final head: signature does not verify with the key",
    );
    expect(wrong.code).toBe(1);

    const genuineWithWrongKey = await runCli(write("ok-other-key.json", file), "--key", otherKeyPath);
    expect(genuineWithWrongKey.stdout).toMatch(
      /^BROKEN at position 3: final head: signature does not verify/,
    );
    expect(genuineWithWrongKey.code).toBe(1);
  });

  it("does not claim to have checked a signature it could not check", async () => {
    // An export with its key removed and its signature garbled: nothing can check the head's signature.
    const { publicKey: _, ...keyless } = clone(file);
    keyless.head.signature = "garbage";
    const { stdout } = await runCli(write("keyless.json", keyless));
    expect(stdout).not.toMatch(/signature (checked|verified)/);
  });

  it("exits 2 with a clear message for unreadable files and bad arguments", async () => {
    const okPath = write("ok-args.json", file);
    const notJson = await runCli(write("garbage.json", "{ not json"));
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/not valid JSON/);

    const wrongFormat = await runCli(write("other.json", { format: "backchannel-audit/1", events: [] }));
    expect(wrongFormat.code).toBe(2);
    expect(wrongFormat.stderr).toMatch(/not an audit export/);

    const missing = await runCli(join(dir, "missing.json"));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*missing\.json: ENOENT/);

    const missingHeads = await runCli(okPath, "--heads", join(dir, "no-heads.json"));
    expect(missingHeads.code).toBe(2);
    expect(missingHeads.stderr).toMatch(/cannot read .*no-heads\.json: ENOENT/);

    const headsNotList = await runCli(okPath, "--heads", write("heads-object.json", { saved: [] }));
    expect(headsNotList.code).toBe(2);
    expect(headsNotList.stderr).toMatch(/expected an array of signed heads/);

    const missingKey = await runCli(okPath, "--key", join(dir, "no-key.pem"));
    expect(missingKey.code).toBe(2);
    expect(missingKey.stderr).toMatch(/cannot read .*no-key\.pem: ENOENT/);

    for (const args of [
      [],
      [okPath, "--heads"],
      [okPath, "--key"],
      [okPath, "--verbose"],
      [okPath, okPath],
    ]) {
      const run = await runCli(...args);
      expect(run.code, args.join(" ")).toBe(2);
      expect(run.stderr).toMatch(/usage/);
    }
  });
});
