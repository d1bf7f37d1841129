import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", "json"],
    outputFile: { json: "test-results.json" },
    // Safety nets for a hung npm or a busy machine, not speed expectations.
    testTimeout: 300_000,
    hookTimeout: 600_000
  }
})
