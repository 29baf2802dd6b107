// Keeps docs/protocol.md honest: the example client written from it alone (docs/examples/full-scenario.mjs)
// must reach a deal against a real server. If the protocol changes and the docs do not, this fails.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { backendLabel, backends, useServer } from "../support/server";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const SCRIPT = path.join("docs", "examples", "full-scenario.mjs");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the example as a reader would, from the repository root (node finds socket.io-client there). */
function runExample(url: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, url], {
      cwd: REPO_ROOT,
      env: { ...process.env, BASE_URL: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // The script gives up by itself after 20 s; this is only a backstop.
    const backstop = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(backstop);
      resolve({ code, stdout, stderr });
    });
  });
}

for (const backend of backends()) {
  describe(`docs example on ${backendLabel(backend)}`, () => {
    const suite = useServer(backend);

    it("docs/examples/full-scenario.mjs signs up three people and reaches a deal seen by all three", async () => {
      const run = await runExample(suite.server.url);
      expect(run.stderr, run.stderr).toBe("");
      expect(run.code, run.stdout + run.stderr).toBe(0);
      const deal = /^DEAL (\d+) cents .* seen by all three$/m.exec(run.stdout);
      expect(deal, run.stdout).not.toBeNull();
      // The script's demand and offer are $5,000.00 and $6,000.00: the deal lies in the overlap.
      const amount = Number(deal?.[1]);
      expect(amount).toBeGreaterThanOrEqual(500_000);
      expect(amount).toBeLessThanOrEqual(600_000);
    }, 40_000);

    it("exits 1 with a message when it cannot reach a server", async () => {
      const run = await runExample("http://127.0.0.1:9");
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^full-scenario: FAILED: /);
      expect(run.stdout).not.toMatch(/DEAL/);
    }, 40_000);
  });
}
