import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Seed } from "../src/index.js"

const decodeError = (json: unknown) => Effect.runSync(Effect.flip(Seed.decode(json)))

const deployment = (environments: Array<unknown>) => ({
  deployments: [{ id: "123", name: "D", created_at: "2024-01-15T10:30:00.000Z", environments }]
})

describe("Seed validation names the bad field", () => {
  it("a wrong environment type", () => {
    const error = decodeError(deployment([
      { id: "1", name: "P", type: "production", api_secret: "s" },
      { id: "2", name: "S", type: "prod", api_secret: "s" }
    ]))
    expect(error._tag).toBe("SeedError")
    expect(error.message).toContain(
      "deployments[0].environments[1].type: Expected \"production\" | \"staging\" | \"development\", actual \"prod\""
    )
    expect(error.issues).toEqual([{
      path: "deployments[0].environments[1].type",
      message: "Expected \"production\" | \"staging\" | \"development\", actual \"prod\""
    }])
  })

  it("a missing api_secret, an unknown permission and a typo'd field, all at once", () => {
    const error = decodeError({
      apiKeys: [{ key: "sk-1", name: "One", permissions: ["Everything"] }],
      ...deployment([{ id: "1", name: "P", type: "production" }]),
      auditLg: []
    })
    const paths = error.issues.map((i) => i.path)
    expect(paths).toContain("apiKeys[0].permissions[0]")
    expect(paths).toContain("deployments[0].environments[0].api_secret")
    expect(paths).toContain("auditLg")
  })

  it("a malformed created_at and duplicate ids", () => {
    expect(decodeError({ deployments: [{ id: "1", name: "D", created_at: "yesterday" }] }).issues[0]?.path).toBe(
      "deployments[0].created_at"
    )
    const duplicate = decodeError({
      deployments: [
        { id: "1", name: "A", created_at: "2024-01-01T00:00:00Z" },
        { id: "1", name: "B", created_at: "2024-01-01T00:00:00Z" }
      ]
    })
    expect(duplicate.message).toContain("deployments[1].id: duplicate deployment id \"1\"")
  })

  it("an audit event with a non-object attributes", () => {
    const error = decodeError({
      auditLog: [{
        id: "e",
        timestamp: "2024-01-01T00:00:00Z",
        event_name: "Logged in",
        user_email: null,
        deployment_id: null,
        deployment_name: null,
        ip_address: null,
        attributes: "x"
      }]
    })
    expect(error.issues[0]?.path).toBe("auditLog[0].attributes")
  })

  it.effect("parse reports JSON syntax errors; load names the file", () =>
    Effect.gen(function*() {
      expect(Effect.runSync(Effect.flip(Seed.parse("{nope"))).message).toContain("not JSON")
      const dir = mkdtempSync(join(tmpdir(), "seed-"))
      const file = join(dir, "bad.json")
      writeFileSync(file, JSON.stringify(deployment([{ id: "1", name: "P", type: "prod", api_secret: "s" }])))
      const error = yield* Effect.flip(Seed.load(file))
      expect(error.message).toContain(file)
      expect(error.message).toContain("deployments[0].environments[0].type")
      const missing = yield* Effect.flip(Seed.load(join(dir, "missing.json")))
      expect(missing.message).toContain("cannot read the file")
    }))
})

describe("Seed formats and datasets", () => {
  it("the ARCHITECTURE.md example decodes; integer ids become strings; defaults fill the rest", () => {
    const seed = Effect.runSync(Seed.decode({
      deployments: [{
        id: 7,
        name: "Seven",
        created_at: "2024-01-15T10:30:00.000Z",
        environments: [{ id: 8, name: "Production", type: "production", api_secret: "x" }]
      }]
    }))
    expect(seed.plan).toBe("enterprise")
    expect(seed.apiKeys.map((k) => k.key)).toEqual(["sk-demo-admin", "sk-demo-viewer", "sk-demo-auditor"])
    expect(seed.deployments[0]?.id).toBe("7")
    expect(seed.deployments[0]?.environments[0]?.id).toBe("8")
  })

  it("the demo holds the reference page's deployment 123 and environment 456", () => {
    const d = Seed.demo.deployments[0]!
    expect([d.id, d.name, d.createdAt?.toISOString()]).toEqual(["123", "My Deployment", "2024-01-15T10:30:00.000Z"])
    const e = d.environments[0]!
    expect([e.id, e.name, e.type]).toEqual(["456", "Production", "production"])
    expect(e.apiCredentials).toEqual({
      rest: { url: "https://example.cubecloud.dev/cubejs-api" },
      sql: { host: "example.sql.cubecloud.dev", port: 5432 }
    })
    const types = new Set(Seed.demo.deployments.flatMap((x) => x.environments.map((y) => y.type)))
    expect([...types].sort()).toEqual(["development", "production", "staging"])
    expect(Seed.demo.auditLog.length).toBeGreaterThanOrEqual(30)
    expect(Seed.demo.auditLog.some((x) => JSON.stringify(x.attributes).includes("[HIDDEN]"))).toBe(true)
  })

  it("the demo round-trips through its JSON form", () => {
    const json = Seed.toJson(Seed.demo)
    const again = Effect.runSync(Seed.decode(JSON.parse(JSON.stringify(json))))
    expect(Seed.toJson(again)).toEqual(json)
  })

  it("generate is deterministic and keeps the demo's 123/456 first", () => {
    const a = Seed.generate({ deployments: 50, events: 1_000_000, seed: 7 })
    const b = Seed.generate({ deployments: 50, events: 1_000_000, seed: 7 })
    expect(a.deployments).toHaveLength(50)
    expect(a.deployments[0]?.id).toBe("123")
    expect(a.deployments[0]?.environments[0]?.id).toBe("456")
    expect(Seed.toJson(a)).toEqual(Seed.toJson(b))
    expect(a.generatedAuditLog?.count).toBe(1_000_000)
    // Nothing is materialised: the seed holds no event list.
    expect(a.auditLog).toHaveLength(0)
  })
})

describe("Seed shape", () => {
  it("defaults to reference; platform is read from the file and needs integer deployment ids", () => {
    expect(Seed.demo.shape).toBe("reference")
    expect(Seed.make({ shape: "platform", deployments: [{ id: "42", name: "A" }] }).shape).toBe("platform")
    const error = decodeError({ shape: "platform", deployments: [{ id: "42", name: "A" }, { id: "x-1", name: "B" }] })
    expect(error.issues).toEqual([{
      path: "deployments[1].id",
      message:
        "the platform shape sends deployment ids as integers, so \"x-1\" cannot be served — use an id made of digits, or shape \"reference\""
    }])
    expect(decodeError({ shape: "graphql" }).issues.map((i) => i.path)).toEqual(["shape"])
  })

  it("withShape: the demo serves as platform; a seed with other ids is refused naming them", () => {
    expect(Effect.runSync(Seed.withShape(Seed.demo, "platform")).shape).toBe("platform")
    const seed = Seed.make({ deployments: [{ id: "abc", name: "A" }] })
    const error = Effect.runSync(Effect.flip(Seed.withShape(seed, "platform")))
    expect(error.message).toContain("deployments[0].id: the platform shape sends deployment ids as integers")
  })

  it("platform credentials (an array with nulls) are accepted in a seed", () => {
    const seed = Seed.make({
      deployments: [{
        id: "1",
        name: "A",
        environments: [{
          id: "e",
          type: "production",
          api_secret: "s",
          api_credentials: [{ type: "rest", version: 1, url: "https://x", host: null, port: null, database: null }]
        }]
      }]
    })
    expect(seed.deployments[0]?.environments[0]?.apiCredentials).toEqual({ rest: { version: 1, url: "https://x" } })
  })
})

describe("the demo seed file", () => {
  it.effect("ships as seeds/demo.json and Seed.load reads it to exactly Seed.demo", () =>
    Effect.gen(function*() {
      expect(Seed.demoFile()).toMatch(/seeds[/\\]demo\.json$/)
      expect(yield* Seed.load(Seed.demoFile())).toEqual(Seed.demo)
      expect(Seed.demo.deployments.map((d) => d.id)).toEqual(["123", "124", "125"])
      expect(Seed.demo.auditLog).toHaveLength(36)
    }))
})
