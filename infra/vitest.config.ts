import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "node",
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 90_000,
    // One topology at a time: two cores, shared PostgreSQL and Redis.
    fileParallelism: false,
  },
});
