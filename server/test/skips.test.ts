// A newcomer's `npm test` has no PostgreSQL, Redis or Chromium: suites that need one must report themselves as
// skipped (with a loud warning), never make the run fail with "No test suite found" and never pass in silence.
// With CI=true or REQUIRE_SERVICES=1 the same missing service must fail the run.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";

const SERVER = path.resolve(import.meta.dirname, "..");
const VITEST = path.join(
  path.dirname(createRequire(import.meta.url).resolve("vitest/package.json")),
  "vitest.mjs",
);
// Files whose every suite needs a service: each must still register something the runner can report.
const SERVICE_ONLY_FILES = ["test/timers/bullmq.test.ts", "test/integration/multi-node.test.ts"];

function vitest(files: string[], env: Record<string, string>) {
  const clean: NodeJS.ProcessEnv = { ...process.env };
  for (const name of [
    "CI",
    "DATABASE_URL",
    "REDIS_URL",
    "REQUIRE_SERVICES",
    "REQUIRE_BROWSER",
    "CHROMIUM_PATH",
  ])
    delete clean[name];
  // Set by the running vitest: a nested run must not think it is a worker of this one.
  for (const name of Object.keys(clean)) if (name.startsWith("VITEST") || name === "TEST") delete clean[name];
  const run = spawnSync(process.execPath, [VITEST, "run", ...files], {
    cwd: SERVER,
    env: { ...clean, ...env, NO_COLOR: "1", FORCE_COLOR: "0" },
    encoding: "utf8",
    timeout: 120_000,
  });
  return { status: run.status, output: `${run.stdout}\n${run.stderr}` };
}

describe("suites that need a service, on a machine without it", () => {
  it("are reported as skipped, with a warning, and the run succeeds", () => {
    const run = vitest(SERVICE_ONLY_FILES, {});
    expect(run.output).not.toMatch(/No test suite found/);
    expect(run.status, run.output).toBe(0);
    expect(run.output).toMatch(/SKIPPING BullMQ scheduler suite: REDIS_URL not set/);
    expect(run.output).toMatch(/Test Files\s+2 skipped/);
    expect(run.output).not.toMatch(/\d+ passed/);
  }, 150_000);

  it("fail the run under REQUIRE_SERVICES=1 (and CI=true)", () => {
    for (const env of [{ REQUIRE_SERVICES: "1" }, { CI: "true" }] as Record<string, string>[]) {
      const run = vitest(["test/timers/bullmq.test.ts"], env);
      expect(run.status, JSON.stringify(env)).not.toBe(0);
      expect(run.output).toMatch(/REDIS_URL is not set/);
    }
  }, 150_000);
});
