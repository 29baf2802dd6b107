import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type AuditExport, buildAuditExport } from "../../src/store/audit";
import { newDataKey } from "../../src/store/crypto";
import { sealedFields, storedChain } from "./fixtures";

const serverDir = resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "bc-audit-cli-"));

function runCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      "npx",
      ["tsx", "src/store/audit-verify-cli.ts", ...args],
      { cwd: serverDir },
      (err, stdout, stderr) => {
        done({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}

function writeJson(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof value === "string" ? value : JSON.stringify(value));
  return path;
}

describe("audit-verify CLI", () => {
  const sessionId = randomUUID();
  const chain = storedChain(
    sessionId,
    [
      { type: "SessionCreated", at: 1, actor: null, payload: { title: "T" } },
      { type: "BidSet", at: 2, actor: null, payload: { side: "claimant", amount: 73914205 } },
      { type: "Step2Opened", at: 3, actor: null, payload: {} },
    ],
    newDataKey(),
  );
  const file: AuditExport = buildAuditExport(sessionId, "claimant", chain, sealedFields, () => ({
    content: true,
  }));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints OK and exits 0 for an intact chain", async () => {
    const { code, stdout } = await runCli(writeJson("ok.json", file));
    expect(stdout.trim()).toBe(`OK: 3 events, chain intact, final hash ${chain[2]!.chainHash}`);
    expect(code).toBe(0);
  });

  it("prints BROKEN with the version and exits 1 for a tampered export", async () => {
    const tampered = JSON.parse(JSON.stringify(file)) as AuditExport;
    tampered.events[1]!.content!.payload.side = "respondent";
    const { code, stdout } = await runCli(writeJson("broken.json", tampered));
    expect(stdout.trim()).toBe("BROKEN at version 2: content does not match its public hash");
    expect(code).toBe(1);
  });

  it("exits 2 with a clear message for a file that is not an audit export", async () => {
    const notJson = await runCli(writeJson("garbage.json", "{ not json"));
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/not valid JSON/);

    const wrongFormat = await runCli(writeJson("other.json", { format: "something/1", events: [] }));
    expect(wrongFormat.code).toBe(2);
    expect(wrongFormat.stderr).toMatch(/not an audit export/);

    const missing = await runCli(join(dir, "missing.json"));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*missing\.json: ENOENT/);

    const noArgs = await runCli();
    expect(noArgs.code).toBe(2);
    expect(noArgs.stderr).toMatch(/usage/);
  });
});
