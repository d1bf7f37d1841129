/**
 * The wire schemas: the reference page's examples, the variants Cube's
 * published OpenAPI files show, forward compatibility, and the canonical encoding.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either, Redacted, Schema } from "effect"
import * as Domain from "../src/Domain.js"
import { firstIssue } from "../src/Errors.js"
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

  it("rejects what is really wrong, naming the field and index: no rows at all, a row without an id", () => {
    const failure = (wire: unknown) => {
      const result = Schema.decodeUnknownEither(Domain.DeploymentList)(wire)
      return Either.isLeft(result) ? firstIssue(result.left) : "decoded"
    }
    expect(failure({ pagination: { offset: 0, limit: 20, total: 0 } })).toBe(
      "the body: no rows: expected data.deployments, data or items to be an array"
    )
    expect(failure({ data: [{ id: 1 }, { id: 2 }, { id: 3 }, { id: null }], pageInfo: null })).toBe(
      "data[3].id: expected string or integer, got null"
    )
    expect(failure({ data: { deployments: [{ id: "1", name: 5 }] }, pagination: {} })).toBe(
      "data.deployments[0].name: expected string or null, got 5"
    )
  })

  it("a timestamp that is not a date is kept as the text the server sent", () => {
    const page = decode(Domain.DeploymentList)({
      data: { deployments: [{ id: "1", name: "D", created_at: "yesterday" }] },
      pagination: { offset: 0, limit: 1, total: 1 }
    })
    expect(page.items[0]?.createdAt).toBe("yesterday")
    const token = decode(Domain.MetaSyncTokenResponse)({
      data: { token: "t", created_at: "15/01/2024 10:30", expires_at: "2024-01-15T11:30:00Z" }
    })
    expect(token.createdAt).toBe("15/01/2024 10:30")
    expect(token.expiresAt).toEqual(new Date("2024-01-15T11:30:00Z"))
  })
})

describe("Domain: Cube's platform shape (cube-platform-api.md)", () => {
  const platformDeployments = {
    data: [{ id: 123, name: "My Deployment", deploymentUrl: "https://x.cubecloud.dev", creationStep: "ready" }],
    items: [{ id: 123, name: "My Deployment", deploymentUrl: "https://x.cubecloud.dev", creationStep: "ready" }],
    pageInfo: { hasNextPage: false, hasPreviousPage: false, endCursor: "c1", startCursor: "c1" },
    pagination: { offset: 0, limit: 20, total: 1 },
    count: 1,
    totalCount: 1
  }

  it("decodes the document's deployment list: flat data + items, pageInfo, integer ids", () => {
    const page = decode(Domain.DeploymentList)(platformDeployments)
    expect(page.items).toEqual([
      { id: "123", name: "My Deployment", deploymentUrl: "https://x.cubecloud.dev", creationStep: "ready" }
    ])
    expect(page.pageInfo?.endCursor).toBe("c1")
    expect(page.pagination?.total).toBe(1)
  })

  it("never loses rows: whichever of data and items holds them is used", () => {
    const row = { id: 1 }
    expect(decode(Domain.DeploymentList)({ data: [row], items: [] }).items).toHaveLength(1)
    expect(decode(Domain.DeploymentList)({ data: [], items: [row, row] }).items).toHaveLength(2)
    expect(decode(Domain.DeploymentList)({ items: [row], data: null }).items).toHaveLength(1)
  })

  it("environments: no name, credential arrays with nulls, pagination null or absent", () => {
    const environment = {
      id: "456",
      type: "production",
      api_credentials: [
        { type: "rest", version: 1, url: "https://x.cubecloud.dev/cubejs-api", host: null, port: null, database: null },
        { type: "sql", version: 1, url: null, host: "x.sql.cubecloud.dev", port: 5432, database: null }
      ],
      branch: null,
      user: null
    }
    for (const pagination of [null, undefined]) {
      const page = decode(Domain.EnvironmentList)({
        data: [environment],
        items: [environment],
        pageInfo: null,
        pagination
      })
      expect(page.items[0]?.apiCredentials).toEqual({
        rest: { version: 1, url: "https://x.cubecloud.dev/cubejs-api" },
        sql: { version: 1, host: "x.sql.cubecloud.dev", port: 5432 }
      })
      expect(page.pagination).toBeUndefined()
    }
  })

  it("the platform schemas encode what the mock serves: integer ids, credential arrays with nulls", () => {
    const deployment = { id: "123", name: "D", deploymentUrl: "https://x", creationStep: "ready" }
    expect(encode(Domain.PlatformDeployment)(deployment)).toEqual({ ...deployment, id: 123 })
    expect(Either.isLeft(Schema.encodeEither(Domain.PlatformDeployment)({ id: "abc" }))).toBe(true)
    const environment = decode(Domain.Environment)({
      id: "456",
      type: "production",
      api_credentials: { rest: { url: "https://r" }, sql: { host: "h", port: 5432 } }
    })
    expect(encode(Domain.PlatformEnvironment)(environment)).toEqual({
      id: "456",
      type: "production",
      api_credentials: [
        { type: "rest", version: 1, url: "https://r", host: null, port: null, database: null },
        { type: "sql", version: 1, url: null, host: "h", port: 5432, database: null }
      ]
    })
  })

  it("a token response that echoes security_context and scopes", () => {
    const token = decode(Domain.MetaSyncTokenResponse)({
      data: { token: "t", security_context: { tenant_id: "acme" }, created_at: "x", expires_at: "y", scopes: ["meta"] }
    })
    expect(token.securityContext).toEqual({ tenant_id: "acme" })
    expect(token.scopes).toEqual(["meta"])
  })
})

describe("Domain: counts in a query string", () => {
  const decode = Schema.decodeUnknownEither(Domain.PageQuery)

  it("are decimal digits: what Number() would also read (hex, exponents, signs, spaces) is refused", () => {
    expect(decode({ limit: "20", offset: "0" })).toEqual(Either.right({ limit: 20, offset: 0 }))
    expect(decode({ offset: "007" })).toEqual(Either.right({ offset: 7 }))
    for (const text of ["0x10", "1e1", "+3", "-1", " 5", "5 ", "1.5", "", "Infinity", "١٢", "1234567890123456"]) {
      const decoded = decode({ limit: text })
      expect(Either.isLeft(decoded), text).toBe(true)
      if (Either.isLeft(decoded)) {
        expect(firstIssue(decoded.left), text).toContain("decimal digits")
      }
    }
  })

  it("keep their range rules after the digits", () => {
    const decoded = decode({ limit: "0" })
    expect(Either.isLeft(decoded) && firstIssue(decoded.left)).toContain("an integer ≥ 1")
  })

  it("encode back to the digits the server is sent", () => {
    expect(Schema.encodeSync(Domain.PageQuery)({ limit: 16, offset: 0 })).toEqual({ limit: "16", offset: "0" })
  })
})
