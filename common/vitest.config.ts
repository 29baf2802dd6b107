import { defineConfig } from "vitest/config";

// `.ci/run`'s first pass (with the services) leaves the tests that need no service to its second, newcomer pass,
// which runs exactly them, so each runs once per CI run (as server/test/support/db.ts's leftToNewcomerPass does for
// the server's): here that is every test. Honoured only where DATABASE_URL and REDIS_URL are set.
const elsewhere =
  process.env.EMBEDDED_HALVES_IN_NEWCOMER_PASS === "1" &&
  Boolean(process.env.DATABASE_URL) &&
  Boolean(process.env.REDIS_URL);
if (elsewhere)
  console.warn(
    "\n!!! NOT RUNNING common's tests here: EMBEDDED_HALVES_IN_NEWCOMER_PASS=1 (the newcomer pass runs them)\n",
  );

export default defineConfig({
  test: {
    include: elsewhere ? [] : ["test/**/*.test.ts"],
    passWithNoTests: elsewhere,
    // The property tests run thousands of cases; how long that takes depends on the machine's load (in .ci/run they
    // share two cores with the other pass), and time is not what they check.
    testTimeout: 60_000,
  },
});
