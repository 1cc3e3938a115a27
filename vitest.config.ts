import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites start servers and talk to shared backends; two cores run two files at a time.
    maxWorkers: 2,
  },
});
