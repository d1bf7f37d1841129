import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", "json"],
    outputFile: { json: "test-results.json" },
    // Safety nets for a hung test on a busy machine, not speed expectations: tests wait for conditions.
    testTimeout: 180_000,
    hookTimeout: 180_000
  }
})
