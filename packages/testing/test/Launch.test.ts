import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Launch, Seed } from "../src/index.js"

describe("Launch: one way to start the mock", () => {
  it.scoped("starts on a free port with the demo, serves it, and a second start on the same port says it is in use", () =>
    Effect.gen(function*() {
      const launched = yield* Launch.start({ port: 0 })
      expect(launched.seed).toEqual(Seed.demo)
      const response = yield* Effect.promise(() =>
        fetch(`${launched.url}/api/v1/deployments`, { headers: { authorization: "Bearer sk-demo-admin" } })
      )
      expect(response.status).toBe(200)
      expect(Launch.banner(launched)).toContain(`curl -H "Authorization: Bearer sk-demo-admin" ${launched.url}`)
      const busy = yield* Effect.flip(Launch.start({ port: launched.port }))
      expect(busy.usage).toBe(false)
      expect(busy.message).toContain("the port is in use: try --port 0")
    }))

  it.effect("a seed file goes through Seed.load; shape and generation apply; bad options are usage errors", () =>
    Effect.gen(function*() {
      const file = join(mkdtempSync(join(tmpdir(), "launch-")), "seed.json")
      writeFileSync(file, JSON.stringify({ deployments: [{ id: "7", name: "Seven" }] }))
      const seed = yield* Launch.seedOf({ seedFile: file, shape: "platform", events: 10 })
      expect([seed.shape, seed.deployments.map((d) => d.id), seed.generatedAuditLog?.count]).toEqual([
        "platform",
        ["7"],
        10
      ])
      const mixed = yield* Effect.flip(Launch.seedOf({ seedFile: file, deployments: 3 }))
      expect([mixed.usage, mixed.message]).toEqual([true, expect.stringContaining("cannot be combined")])
      writeFileSync(file, JSON.stringify({ deployments: [{ id: "x", name: "X" }] }))
      const unshaped = yield* Effect.flip(Launch.seedOf({ seedFile: file, shape: "platform" }))
      expect(unshaped.message).toContain("deployments[0].id: the platform shape sends deployment ids as integers")
      expect(Launch.parseArgv(["--port", "0", "--shape", "platform"])).toEqual(
        Either.right({ port: 0, shape: "platform" })
      )
    }))
})
