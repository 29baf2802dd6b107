import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "node",
    include: ["test/**/*.test.ts", "e2e/**/*.e2e.test.ts"],
    testTimeout: 20_000,
    // The browser end-to-end test builds the client and opens PGlite (a few seconds each) in its hooks.
    hookTimeout: 120_000,
    // Two cores: Chromium and the server must not compete with other test files.
    fileParallelism: false,
  },
});
