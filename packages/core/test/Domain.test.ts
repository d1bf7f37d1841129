/**
 * The wire schemas: the reference page's examples, the variants Cube's
 * published OpenAPI files show, forward compatibility, and the canonical encoding.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either, Redacted, Schema } from "effect"
import * as Domain from "../src/Domain.js"
import { reference } from "./support/server.js"

const decode = <A, I>(schema: Schema.Schema<A, I>) => Schema.decodeUnknownSync(schema)
const encode = <A, I>(schema: Schema.Schema<A, I>) => Schema.encodeSync(schema)
const roundTrip = <A, I>(schema: Schema.Schema<A, I>, wire: unknown) => encode(schema)(decode(schema)(wire))

describe("Domain: the reference page's examples", () => {
  it("decodes the deployments list and encodes it back exactly", () => {
    const page = decode(Domain.DeploymentList)(reference.deployments)
    expect(page.items).toEqual([{ id: "123", name: "My Deployment", createdAt: new Date("2024-01-15T10:30:00.000Z") }])
    expect(page.pagination).toEqual({ offset: 0, limit: 20, total: 1 })
    expect(roundTrip(Domain.DeploymentList, reference.deployments)).toEqual(reference.deployments)
  })

  it("decodes the environments list and encodes it back exactly", () => {
    const page = decode(Domain.EnvironmentList)(reference.environments)
    const [environment] = page.items
    expect(environment?.id).toBe("456")
    expect(environment?.type).toBe("production")
    expect(environment?.apiCredentials).toEqual({
      rest: { url: "https://example.cubecloud.dev/cubejs-api" },
      sql: { host: "example.sql.cubecloud.dev", port: 5432 }
    })
    expect(roundTrip(Domain.EnvironmentList, reference.environments)).toEqual(reference.environments)
  })

  it("decodes the token response (token redacted, dates as Date) and encodes it back exactly", () => {
    const token = decode(Domain.MetaSyncTokenResponse)(reference.token)
    expect(Redacted.value(token.token)).toBe(reference.token.data.token)
    expect(String(token.token)).not.toContain("eyJ")
    expect(token.createdAt).toEqual(new Date("2024-01-15T10:30:00.000Z"))
    expect(token.expiresAt).toEqual(new Date("2024-01-15T11:30:00.000Z"))
    expect(roundTrip(Domain.MetaSyncTokenResponse, reference.token)).toEqual(reference.token)
  })

  it("encodes the token request body in the reference shape", () => {
    expect(encode(Domain.MetaSyncTokenInput)({ securityContext: { tenant_id: "acme" }, expiresIn: 3600 })).toEqual({
      security_context: { tenant_id: "acme" },
      expires_in: 3600
    })
    expect(encode(Domain.MetaSyncTokenInput)({ securityContext: {} })).toEqual({ security_context: {} })
  })

  it("decodes the error body", () => {
    expect(decode(Domain.ErrorBody)({ error: "Error message" })).toEqual({ error: "Error message" })
  })
})

describe("Domain: variants from Cube's published OpenAPI files", () => {
  const pagination = { offset: 0, limit: 20, total: 1 }

  it("integer ids become strings, and encode as strings", () => {
    const wire = { data: { deployments: [{ id: 123, name: "D", created_at: "2024-01-15T10:30:00.000Z" }] }, pagination }
    const page = decode(Domain.DeploymentList)(wire)
    expect(page.items[0]?.id).toBe("123")
    expect(encode(Domain.DeploymentList)(page)).toEqual({
      data: { deployments: [{ id: "123", name: "D", created_at: "2024-01-15T10:30:00.000Z" }] },
      pagination
    })
  })

  it("list items under `data` (an array) or `items`; encoding gives the reference shape", () => {
    const deployment = { id: "1", name: "D", created_at: "2024-01-15T10:30:00.000Z" }
    for (const wire of [{ data: [deployment], pagination }, { items: [deployment], pagination }]) {
      const page = decode(Domain.DeploymentList)(wire)
      expect(page.items.map((d) => d.id)).toEqual(["1"])
      expect(encode(Domain.DeploymentList)(page)).toEqual({ data: { deployments: [deployment] }, pagination })
    }
    const environments = decode(Domain.EnvironmentList)({ items: [{ id: 7, type: "staging" }], pagination })
    expect(environments.items[0]?.id).toBe("7")
  })

  it("api_credentials as an array of typed entries; encoding gives the object shape", () => {
    const wire = {
      data: {
        environments: [{
          id: "456",
          type: "production",
          api_credentials: [
            { type: "rest", url: "https://example.cubecloud.dev/cubejs-api" },
            { type: "sql", host: "example.sql.cubecloud.dev", port: 5432, database: "db" }
          ]
        }]
      },
      pagination
    }
    const page = decode(Domain.EnvironmentList)(wire)
    expect(page.items[0]?.apiCredentials).toEqual({
      rest: { url: "https://example.cubecloud.dev/cubejs-api" },
      sql: { host: "example.sql.cubecloud.dev", port: 5432, database: "db" }
    })
    expect(encode(Domain.EnvironmentList)(page)).toEqual({
      pagination,
      data: {
        environments: [{
          id: "456",
          type: "production",
          api_credentials: {
            rest: { url: "https://example.cubecloud.dev/cubejs-api" },
            sql: { host: "example.sql.cubecloud.dev", port: 5432, database: "db" }
          }
        }]
      }
    })
  })

  it("environments with `branch` and `user` (nullable) and no `name`", () => {
    const page = decode(Domain.EnvironmentList)({
      data: {
        environments: [
          { id: "1", type: "staging", branch: "feature-x", user: null },
          { id: "2", type: "development", branch: null, user: "dev@example.com" }
        ]
      },
      pagination: { offset: 0, limit: 20, total: 2 }
    })
    expect(page.items.map((e) => [e.name, e.branch, e.user])).toEqual([
      [undefined, "feature-x", null],
      [undefined, null, "dev@example.com"]
    ])
  })

  it("a token response echoing security_context, or a bare token object", () => {
    const echoed = decode(Domain.MetaSyncTokenResponse)({
      data: { ...reference.token.data, security_context: { tenant_id: "acme" } }
    })
    expect(echoed.securityContext).toEqual({ tenant_id: "acme" })
    const bare = decode(Domain.MetaSyncTokenResponse)(reference.token.data)
    expect(Redacted.value(bare.token)).toBe(reference.token.data.token)
    expect(encode(Domain.MetaSyncTokenResponse)(bare)).toEqual(reference.token)
  })

  it("a token input with `scopes`; no maximum on expires_in (the server decides)", () => {
    const input = decode(Domain.MetaSyncTokenInput)({ security_context: {}, expires_in: 86_400 * 30, scopes: ["meta"] })
    expect(input).toEqual({ securityContext: {}, expiresIn: 2_592_000, scopes: ["meta"] })
    expect(
      Either.isLeft(Schema.decodeUnknownEither(Domain.MetaSyncTokenInput)({ security_context: {}, expires_in: 0 }))
    )
      .toBe(true)
  })
})

describe("Domain: forward compatibility", () => {
  it("unknown fields survive decode and encode, at every level", () => {
    const wire = {
      data: {
        environments: [{
          id: "456",
          name: "Production",
          type: "production",
          region: "eu-west-1",
          api_credentials: {
            rest: { url: "https://example.cubecloud.dev/cubejs-api", websocket: "wss://x" },
            sql: { host: "example.sql.cubecloud.dev", port: 5432 },
            graphql: { url: "https://example.cubecloud.dev/graphql" }
          }
        }]
      },
      pagination: { offset: 0, limit: 20, total: 1 }
    }
    const page = decode(Domain.EnvironmentList)(wire)
    expect(page.items[0]?.["region"]).toBe("eu-west-1")
    expect(roundTrip(Domain.EnvironmentList, wire)).toEqual(wire)

    const deployments = {
      data: { deployments: [{ id: "1", name: "D", created_at: "2024-01-15T10:30:00.000Z", status: "running" }] },
      pagination: { offset: 0, limit: 20, total: 1 }
    }
    expect(roundTrip(Domain.DeploymentList, deployments)).toEqual(deployments)

    const token = { data: { ...reference.token.data, kid: "k1" } }
    expect(roundTrip(Domain.MetaSyncTokenResponse, token)).toEqual(token)
  })

  it("an unknown environment type is kept as it came", () => {
    const wire = {
      data: { environments: [{ id: "9", type: "preview" }] },
      pagination: { offset: 0, limit: 20, total: 1 }
    }
    expect(decode(Domain.EnvironmentList)(wire).items[0]?.type).toBe("preview")
  })

  it("rejects what is really wrong: a missing pagination, a date that is not one", () => {
    const bad = [
      { data: { deployments: [] } },
      {
        data: { deployments: [{ id: "1", name: "D", created_at: "yesterday" }] },
        pagination: { offset: 0, limit: 1, total: 1 }
      }
    ]
    for (const wire of bad) expect(Either.isLeft(Schema.decodeUnknownEither(Domain.DeploymentList)(wire))).toBe(true)
  })
})

describe("Domain: audit-log events", () => {
  const record = {
    id: "evt_1",
    timestamp: "2024-01-15T10:30:00.000Z",
    event_name: "Logged in",
    user_email: "user@example.com",
    deployment_id: "",
    deployment_name: "",
    ip_address: "203.0.113.7",
    attributes: "{\"method\":\"password\"}",
    tenant: "acme"
  }

  it("a CSV record decodes into an event: empty → null, attributes parsed, unknown columns kept", () => {
    const event = decode(Domain.AuditLogEventFromCsvRecord)(record)
    expect(event).toMatchObject({
      id: "evt_1",
      eventName: "Logged in",
      userEmail: "user@example.com",
      deploymentId: null,
      deploymentName: null,
      ipAddress: "203.0.113.7",
      attributes: { method: "password" },
      tenant: "acme"
    })
    expect(event.timestamp).toEqual(new Date("2024-01-15T10:30:00.000Z"))
    expect(encode(Domain.AuditLogEventFromCsvRecord)(event)).toEqual(record)
  })

  it("the JSON form is snake_case with nulls", () => {
    const event = decode(Domain.AuditLogEventFromCsvRecord)(record)
    expect(encode(Domain.AuditLogEvent)(event)).toEqual({
      id: "evt_1",
      timestamp: "2024-01-15T10:30:00.000Z",
      event_name: "Logged in",
      user_email: "user@example.com",
      deployment_id: null,
      deployment_name: null,
      ip_address: "203.0.113.7",
      attributes: { method: "password" },
      tenant: "acme"
    })
  })

  it("attributes that are not JSON are a decode error saying so", () => {
    const result = Schema.decodeUnknownEither(Domain.AuditLogEventFromCsvRecord)({ ...record, attributes: "{oops" })
    expect(Either.isLeft(result) ? result.left.message : "").toContain("attributes is not JSON")
  })
})
