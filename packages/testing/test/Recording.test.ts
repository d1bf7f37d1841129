/**
 * Record → replay: the mock recorded through core's HTTP client, the recording served again,
 * answers every list and export byte for byte as the original did — except the api secrets,
 * which a recording replaces (and never shows), in both wire shapes.
 */
import { ControlPlane, HttpControlPlane } from "@cubeplane/core"
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { Jwt, MockServer, Recording, Seed } from "../src/index.js"

const client = (url: string) =>
  HttpControlPlane.layer({ url, apiKey: Redacted.make("sk-demo-admin"), retry: { maxRetries: 0 } }).pipe(
    Layer.provide(FetchHttpClient.layer)
  )

const admin = { authorization: "Bearer sk-demo-admin" }

const text = (url: string, path: string) =>
  Effect.promise(async () => {
    const response = await fetch(`${url}${path}`, { headers: admin })
    return `${response.status} ${response.headers.get("content-type")}\n${await response.text()}`
  })

/** Every list and export a client could ask for, as the server answers them (status, type, body). */
const answers = (url: string, seed: Seed.Seed) =>
  Effect.gen(function*() {
    const paths = [
      "/api/v1/deployments",
      "/api/v1/deployments?limit=7&offset=3",
      "/api/v1/deployments?offset=100",
      "/api/v1/deployments/999/environments",
      "/api/v1/audit-logs/export",
      "/api/v1/audit-logs/export?start=2024-01-02&end=2024-01-03",
      "/api/v1/audit-logs/export?search=hidden",
      ...(seed.shape === "platform" ? ["/api/v1/deployments?first=6", "/api/v1/deployments?offset=1&first=2"] : []),
      ...seed.deployments.flatMap((d) => [
        `/api/v1/deployments/${d.id}/environments`,
        `/api/v1/deployments/${d.id}/environments?type=staging`
      ])
    ]
    const out: Record<string, string> = {}
    for (const path of paths) out[path] = yield* text(url, path)
    // Follow the cursors page by page, too.
    if (seed.shape === "platform") {
      let after: string | undefined
      for (let page = 0; page < 20; page++) {
        const path = `/api/v1/deployments?first=4${after === undefined ? "" : `&after=${after}`}`
        const body = yield* text(url, path)
        out[path] = body
        const cursor = /"endCursor":"([^"]+)"/.exec(body)?.[1]
        if (cursor === undefined || !body.includes("\"hasNextPage\":true")) break
        after = cursor
      }
    }
    return out
  })

describe.each(["reference", "platform"] as const)("record → replay (%s shape)", (shape) => {
  it.scoped("a recording of the mock answers every list and export identically, with fresh secrets", () =>
    Effect.gen(function*() {
      const original = { ...Seed.generate({ deployments: 23, events: 3000 }), shape }
      const source = yield* MockServer.scoped({ seed: original })
      const notes: Array<string> = []
      const recorded = yield* Effect.flatMap(
        ControlPlane,
        (cp) => Recording.record(cp, { note: (message) => Effect.sync(() => notes.push(message)) })
      ).pipe(
        Effect.provide(client(source.url))
      )
      expect(notes).toEqual([])
      expect(recorded.seed.shape).toBe(shape)

      // Never a key, a token or a real secret in the file; every secret is marked as replaced.
      for (const key of Seed.demoKeys) expect(recorded.json).not.toContain(key.key)
      expect(recorded.json).not.toMatch(/secret-\d/)
      expect(recorded.json).not.toContain("eyJ")
      const replayed = yield* Seed.parse(recorded.json, "(recording)")
      const environments = replayed.deployments.flatMap((d) => d.environments)
      expect(environments.length).toBeGreaterThan(23)
      for (const environment of environments) {
        expect(environment.apiSecretReplaced).toBe(true)
        expect(environment.apiSecret).toMatch(/^replaced-/)
      }

      const replay = yield* MockServer.scoped({ seed: replayed })
      const before = yield* answers(source.url, original)
      const after = yield* answers(replay.url, replayed)
      expect(Object.keys(after)).toEqual(Object.keys(before))
      for (const path of Object.keys(before)) expect(after[path], path).toBe(before[path])
      expect(before["/api/v1/audit-logs/export"]!.split("\r\n").length).toBe(3000 + 2)

      // The replay's tokens are signed with the recording's secret, not the original's.
      const minted = yield* Effect.promise(async () => {
        const response = await fetch(`${replay.url}/api/v1/deployments/123/environments/456/tokens-for-meta-sync`, {
          method: "POST",
          headers: { ...admin, "content-type": "application/json" },
          body: JSON.stringify({ security_context: { tenant: "t" } })
        })
        return (await response.json()).data.token
      })
      const secret = environments.find((e) => e.id === "456")!.apiSecret
      expect((yield* Effect.promise(() => Jwt.verify(minted, secret))).tenant).toBe("t")
      yield* Effect.flip(Effect.tryPromise(() => Jwt.verify(minted, "secret-456")))
    }))
})

describe("recording a date range, and what it cannot read", () => {
  it.scoped("--start/--end keep only that part of the audit log; a key that may not export records none", () =>
    Effect.gen(function*() {
      const source = yield* MockServer.scoped({ seed: Seed.demo })
      const ranged = yield* Effect.flatMap(
        ControlPlane,
        (cp) => Recording.record(cp, { start: "2024-02-01", end: "2024-02-05" })
      ).pipe(Effect.provide(client(source.url)))
      expect(ranged.seed.auditLog.map((e) => e.id)).toEqual(["evt_29", "evt_30", "evt_31", "evt_32", "evt_33"])

      const notes: Array<string> = []
      const viewer = HttpControlPlane.layer({
        url: source.url,
        apiKey: Redacted.make("sk-demo-viewer"),
        retry: { maxRetries: 0 }
      }).pipe(Layer.provide(FetchHttpClient.layer))
      const partial = yield* Effect.flatMap(
        ControlPlane,
        (cp) => Recording.record(cp, { note: (message) => Effect.sync(() => notes.push(message)) })
      ).pipe(
        Effect.provide(viewer)
      )
      expect(partial.seed.deployments.map((d) => d.id)).toEqual(["123"])
      expect(partial.seed.plan).toBe("team")
      expect(notes).toEqual([expect.stringContaining("The audit log is not recorded: Forbidden")])
    }))
})
