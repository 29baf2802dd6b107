import { defineConfig } from "vitest/config";

// `.ci/run`'s first pass (with the services and Chromium) runs only the browser suites: the unit tests need neither,
// and its second, newcomer pass runs them (so each runs once per CI run, as server/test/support/db.ts's
// leftToNewcomerPass does for the server's). Honoured only where DATABASE_URL and REDIS_URL are set.
const unitTestsElsewhere =
  process.env.EMBEDDED_HALVES_IN_NEWCOMER_PASS === "1" &&
  Boolean(process.env.DATABASE_URL) &&
  Boolean(process.env.REDIS_URL);
if (unitTestsElsewhere)
  console.warn(
    "\n!!! NOT RUNNING the client's unit tests here: EMBEDDED_HALVES_IN_NEWCOMER_PASS=1 (the newcomer pass runs them)\n",
  );

export default defineConfig({
  test: {
    environment: "node",
    include: unitTestsElsewhere ? ["e2e/**/*.e2e.test.ts"] : ["test/**/*.test.ts", "e2e/**/*.e2e.test.ts"],
    testTimeout: 20_000,
    // The browser end-to-end test builds the client and opens PGlite (a few seconds each) in its hooks.
    hookTimeout: 120_000,
    // Two cores: Chromium and the server must not compete with other test files.
    fileParallelism: false,
  },
});
