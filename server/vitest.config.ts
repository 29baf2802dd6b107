import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "node",
    include: ["test/**/*.test.ts"],
    // A folder for this run's initialised PGlite data dir, copied into each embedded server's storage.
    globalSetup: ["test/support/pglite-template.ts"],
    testTimeout: 20_000,
    // Opening PGlite (3-6 s) or creating a PostgreSQL test database happens in hooks.
    hookTimeout: 60_000,
    // Two cores, shared services, and ~200 MB per PGlite instance: one file at a time.
    fileParallelism: false,
  },
});
