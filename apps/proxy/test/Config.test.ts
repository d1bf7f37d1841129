import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as Config from "../src/Config.js"
import { problemsOf } from "./helpers.js"

const hashA = `sha256:${"a".repeat(64)}`
const hashB = `sha256:${"b".repeat(64)}`

describe("Config.parse", () => {
  it("reads the README's YAML example", () => {
    const config = Config.parse(
      `
upstream:
  timeout_ms: 5000
  retries: 3
cache:
  ttl_seconds: 10
keys:
  - name: datahub
    hash: ${hashA}
    rate_limit: { requests: 60, window_seconds: 60 }
    grants:
      - operations: [createMetaSyncToken]
        deployments: ["123"]
        environments: ["456"]
        token:
          max_expires_in: 3600
          security_context: { tenant_id: acme }
  - name: ci
    hash: ${"B".repeat(64)}
    grants:
      - operations: ["*"]
`,
      "proxy.yaml"
    )
    expect(config.upstream).toEqual({ timeoutMs: 5000, retries: 3 })
    expect(config.cache).toEqual({ ttlSeconds: 10, maxEntries: 1000 })
    expect(config.keys[0]).toEqual({
      name: "datahub",
      hash: "a".repeat(64),
      rateLimit: { requests: 60, windowSeconds: 60 },
      grants: [{
        operations: ["createMetaSyncToken"],
        deployments: ["123"],
        environments: ["456"],
        token: { maxExpiresIn: 3600, securityContext: { tenant_id: "acme" } }
      }]
    })
    expect(config.keys[1]?.hash).toBe("b".repeat(64))
  })

  it("reads the config example in the README as documented", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    const example = /## The config file[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1] ?? ""
    const config = Config.parse(example, "README.md")
    expect(config.keys.map((key) => key.name)).toEqual(["datahub", "ci-deploy", "splunk", "platform"])
    expect(config.keys[0]?.grants[0]?.token).toEqual({ maxExpiresIn: 3600, securityContext: { tenant_id: "acme" } })
    expect(config.cache).toEqual({ ttlSeconds: 10, maxEntries: 1000 })
  })

  it("reads JSON too, with defaults", () => {
    const config = Config.parse(
      JSON.stringify({ keys: [{ name: "a", hash: hashA, grants: [{ operations: ["listDeployments"] }] }] }),
      "proxy.json"
    )
    expect(config.upstream).toEqual({ timeoutMs: 10_000, retries: 2 })
    expect(config.cache.ttlSeconds).toBe(0)
  })

  it("names the line and field of a wrong value", () => {
    const problems = problemsOf(`keys:
  - name: datahub
    hash: ${hashA}
    grants:
      - operations: [createMetaSyncToken]
        token:
          max_expires_in: -5
`)
    expect(problems).toEqual([
      "line 7, column 27: keys[0].grants[0].token.max_expires_in: Expected an integer ≥ 1"
    ])
  })

  it("names an unknown operation", () => {
    const [problem] = problemsOf(`keys:
  - name: datahub
    hash: ${hashA}
    grants:
      - operations: [mintTokens]
`)
    expect(problem).toMatch(/^line 5, column \d+: keys\[0\]\.grants\[0\]\.operations\[0\]: /)
    expect(problem).toContain("listDeployments")
  })

  it("refuses a misspelt field instead of ignoring it", () => {
    expect(problemsOf(`keys:
  - name: datahub
    hash: ${hashA}
    grants:
      - operations: [createMetaSyncToken]
        token:
          max_expire_in: 60
`)).toEqual([
      "line 7, column 26: keys[0].grants[0].token.max_expire_in: unknown field (check its spelling; see the README for the format)"
    ])
  })

  it("names a missing field at its parent's line", () => {
    expect(problemsOf(`keys:
  - name: datahub
    grants: []
`)).toEqual(["line 2, column 5: keys[0].hash: is required"])
  })

  it("refuses a bad hash, saying how to make one", () => {
    const [problem] = problemsOf(`keys:
  - name: datahub
    hash: cpk_plaintext_key
    grants: []
`)
    expect(problem).toContain("line 3")
    expect(problem).toContain("keygen")
  })

  it("refuses duplicate names and hashes, and token rules where tokens are not granted", () => {
    expect(problemsOf(`keys:
  - name: a
    hash: ${hashA}
    grants:
      - operations: [listDeployments]
        token: { max_expires_in: 60 }
  - name: a
    hash: ${hashA}
    grants: []
  - name: b
    hash: ${hashB}
    grants: []
`)).toEqual([
      "line 6, column 16: keys[0].grants[0].token: token rules apply to createMetaSyncToken, which this grant does not list in operations",
      "line 7, column 11: keys[1].name: \"a\" is also the name of keys[0]",
      "line 8, column 11: keys[1].hash: the same hash as keys[0]: one key, two names"
    ])
  })

  it("names the line of a YAML syntax error", () => {
    const [problem] = problemsOf("keys:\n  - name: a\n   hash: [unclosed\n")
    expect(problem).toMatch(/^line \d+, column \d+: /)
  })

  it("refuses a file without keys", () => {
    expect(problemsOf("cache:\n  ttl_seconds: 5\n")).toEqual(["line 1, column 1: keys: is required"])
  })

  it("an empty file, a list or text says what the file must look like, without echoing it", () => {
    for (
      const [text, kind] of [["", "empty"], ["# only a comment\n", "empty"], ["[1, 2]", "a list"], [
        "\u0004\u00ff garbage \u0001",
        "a string"
      ]]
    ) {
      const problems = problemsOf(text!)
      expect(problems, kind).toHaveLength(1)
      expect(problems[0], kind).toContain("must be a YAML (or JSON) mapping with a `keys:` list at the top")
      expect(problems[0], kind).toContain(`it is ${kind}`)
      expect(problems[0], kind).not.toContain("garbage")
    }
  })
})
