/**
 * The mock's data: API keys, the plan, deployments with their environments
 * (and each environment's `api_secret`), and the audit log.
 *
 * A seed file is JSON in the reference page's wire format (snake_case,
 * string ids) — see the package README. It is decoded with `Seed.Seed`,
 * built from core's `Domain` schemas, and an invalid file is a `SeedError`
 * naming every bad field, e.g.
 * `deployments[0].environments[1].type: Expected "production" | "staging" | "development", actual "prod"`.
 *
 * @since 0.1.0
 */
import { Domain } from "@cubeplane/core"
import { Data, Effect, Either, Schema } from "effect"
import { readFile } from "node:fs/promises"
import type { GeneratedAuditLog } from "./internal/generator.js"
import { defaultStartMillis, defaultStepMillis } from "./internal/generator.js"
import type { Issue } from "./internal/issues.js"
import { formatPath, issuesOf, render } from "./internal/issues.js"

export type { GeneratedAuditLog } from "./internal/generator.js"

// ---------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------

/** Permission names (cube-facts.md). `DeploymentsManage` includes everything `DeploymentRead` allows. */
export const Permission = Schema.Literal("All", "DeploymentRead", "DeploymentsManage", "AuditLogManage")
export type Permission = typeof Permission.Type

export const ApiKey = Schema.Struct({
  /** The secret the client sends (`Authorization: Bearer <key>` or `Api-Key <key>`). */
  key: Schema.String.pipe(Schema.minLength(1), Schema.pattern(/^\S+$/)).annotations({
    message: () => "an API key must be a non-empty string without spaces"
  }),
  /** What recorded calls and messages show instead of the key. */
  name: Schema.String,
  permissions: Schema.Array(Permission),
  /** When present, the key sees only these deployments, and gets 403 on the others. */
  deployments: Schema.optional(Schema.Array(Domain.Id))
}).annotations({ identifier: "ApiKey" })
export type ApiKey = typeof ApiKey.Type

export const Environment = Schema.Struct({
  id: Domain.Id,
  /** Optional: Cube's platform API has no environment names (the platform shape never sends one). */
  name: Schema.optional(Schema.String),
  type: Domain.EnvironmentType,
  /** Signs this environment's meta-sync tokens. Never sent in any response. */
  apiSecret: Schema.propertySignature(Schema.String.pipe(Schema.minLength(1))).pipe(Schema.fromKey("api_secret")),
  /**
   * `true` when `api_secret` is not the tenant's real one (a recording replaces every secret with a fresh
   * random one): tokens minted here verify only against this seed, never against the real environment.
   */
  apiSecretReplaced: Schema.optional(Schema.Boolean).pipe(Schema.fromKey("api_secret_replaced")),
  /** The reference page's object (`{rest: {url}, sql: {host, port}}`) or Cube's platform array of entries. */
  apiCredentials: Schema.optional(Schema.Union(Domain.ApiCredentials, Domain.ApiCredentialsFromArray)).pipe(
    Schema.fromKey("api_credentials")
  ),
  branch: Schema.optional(Schema.NullOr(Schema.String)),
  user: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "SeedEnvironment" })
export type Environment = typeof Environment.Type

export const Deployment = Schema.Struct({
  id: Domain.Id,
  name: Schema.String,
  /** Sent in the reference shape when present (Cube's platform API has none). */
  createdAt: Schema.optional(Domain.Timestamp).pipe(Schema.fromKey("created_at")),
  /** Sent in the platform shape (default `https://deployment-<id>.cubecloud.dev`); in the reference shape when present. */
  deploymentUrl: Schema.optional(Schema.String),
  /** Sent in the platform shape (default `ready`); in the reference shape when present. */
  creationStep: Schema.optional(Schema.String),
  environments: Schema.optionalWith(Schema.Array(Environment), { default: () => [] })
}).annotations({ identifier: "SeedDeployment" })
export type Deployment = typeof Deployment.Type

/** An audit event in its JSON form (core's `Domain.AuditLogEvent`, without unknown fields). */
export const AuditLogEvent = Schema.Struct(Domain.AuditLogEvent.fields).annotations({ identifier: "SeedAuditLogEvent" })

/** The three demo keys; also the default when a seed has no `apiKeys`. */
export const demoKeys: ReadonlyArray<ApiKey> = [
  { key: "sk-demo-admin", name: "Admin", permissions: ["All"] },
  { key: "sk-demo-viewer", name: "Viewer", permissions: ["DeploymentRead"], deployments: ["123"] },
  { key: "sk-demo-auditor", name: "Auditor", permissions: ["AuditLogManage"] }
]

const SeedFields = Schema.Struct({
  /**
   * The wire shape the mock answers in: `reference` (the Control Plane API page; the default) or
   * `platform` (Cube's published OpenAPI document: flat lists with cursors, integer deployment ids).
   */
  shape: Schema.optionalWith(Domain.WireShape, { default: () => "reference" as const }),
  /** `enterprise` enables the audit-log export; anything else answers it with 403. Default: `enterprise`. */
  plan: Schema.optionalWith(Schema.String, { default: () => "enterprise" }),
  /** Default: the demo keys. An empty list means every request is 401. */
  apiKeys: Schema.optionalWith(Schema.Array(ApiKey), { default: () => demoKeys }),
  deployments: Schema.optionalWith(Schema.Array(Deployment), { default: () => [] }),
  /** In any order: the export sorts them oldest first. */
  auditLog: Schema.optionalWith(Schema.Array(AuditLogEvent), { default: () => [] })
})

interface DuplicateIssue {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

const duplicates = <A>(
  items: ReadonlyArray<A>,
  idOf: (item: A) => string,
  path: (index: number) => ReadonlyArray<PropertyKey>,
  what: string
): Array<DuplicateIssue> => {
  const seen = new Map<string, number>()
  const out: Array<DuplicateIssue> = []
  items.forEach((item, index) => {
    const id = idOf(item)
    const first = seen.get(id)
    if (first === undefined) seen.set(id, index)
    else out.push({ path: path(index), message: `duplicate ${what} ${JSON.stringify(id)} (first at index ${first})` })
  })
  return out
}

/** A deployment id the platform shape can send as a JSON integer. */
export const platformIdPattern = /^-?\d{1,15}$/

/** Deployment ids the platform shape cannot send (it carries them as JSON integers). */
const nonIntegerIds = (
  shape: Domain.WireShape,
  deployments: ReadonlyArray<{ readonly id: string }>
): Array<DuplicateIssue> =>
  shape !== "platform" ? [] : deployments.flatMap((d, i) =>
    platformIdPattern.test(d.id) ? [] : [{
      path: ["deployments", i, "id"],
      message: `the platform shape sends deployment ids as integers, so ${
        JSON.stringify(d.id)
      } cannot be served — use an id made of digits, or shape "reference"`
    }]
  )

/** The seed file's schema: JSON (wire format) ⇄ `Seed`. Ids must be unique where the API needs them to be. */
export const Seed = SeedFields.pipe(
  Schema.filter((seed) => [
    ...nonIntegerIds(seed.shape, seed.deployments),
    ...duplicates(seed.apiKeys, (k) => k.key, (i) => ["apiKeys", i, "key"], "API key"),
    ...duplicates(seed.deployments, (d) => d.id, (i) => ["deployments", i, "id"], "deployment id"),
    ...seed.deployments.flatMap((deployment, d) =>
      duplicates(
        deployment.environments,
        (e) => e.id,
        (i) => ["deployments", d, "environments", i, "id"],
        "environment id"
      )
    )
  ])
).annotations({ identifier: "Seed" })

/** A loaded seed. `generatedAuditLog` (from `generate`) adds events produced lazily, never held in memory. */
export interface Seed extends Schema.Schema.Type<typeof SeedFields> {
  readonly generatedAuditLog?: GeneratedAuditLog
}

/** The seed file's JSON shape. */
export type SeedJson = typeof Seed.Encoded

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/** An invalid seed: `issues` names each bad field; `message` lists them. */
export class SeedError extends Data.TaggedError("SeedError")<{
  readonly message: string
  readonly issues: ReadonlyArray<Issue>
}> {}

const describe = (source: string | undefined, issues: ReadonlyArray<Issue>): SeedError =>
  new SeedError({
    issues,
    message: `Invalid seed${source !== undefined ? ` ${source}` : ""}:\n${
      issues.map((i) => `  ${render(i)}`).join("\n")
    }`
  })

const decodeEither = Schema.decodeUnknownEither(Seed, { errors: "all", onExcessProperty: "error" })

const decodeWith = (value: unknown, source: string | undefined): Either.Either<Seed, SeedError> =>
  Either.mapLeft(decodeEither(value), (error) => describe(source, issuesOf(error)))

/** A seed from a JSON value (already parsed). Unknown fields are errors, so a typo does not pass silently. */
export const decode = (value: unknown): Effect.Effect<Seed, SeedError> => decodeWith(value, undefined)

/** A seed from JSON text. */
export const parse = (json: string, source?: string): Effect.Effect<Seed, SeedError> =>
  Effect.flatMap(
    Effect.try({
      try: (): unknown => JSON.parse(json),
      catch: (error) =>
        describe(source, [{ path: "", message: `not JSON: ${error instanceof Error ? error.message : String(error)}` }])
    }),
    (value) => decodeWith(value, source)
  )

/** A seed from a JSON file. */
export const load = (path: string): Effect.Effect<Seed, SeedError> =>
  Effect.flatMap(
    Effect.tryPromise({
      try: () => readFile(path, "utf8"),
      catch: (error) =>
        describe(`(${path})`, [{
          path: "",
          message: `cannot read the file: ${error instanceof Error ? error.message : String(error)}`
        }])
    }),
    (text) => parse(text, `(${path})`)
  )

/**
 * The seed served in another wire shape (`pnpm mock --shape platform`). Fails naming every deployment id
 * the platform shape cannot send (ids must be integers there).
 */
export const withShape = (seed: Seed, shape: Domain.WireShape): Effect.Effect<Seed, SeedError> => {
  const issues = nonIntegerIds(shape, seed.deployments).map(({ message, path }) => ({
    path: formatPath(path),
    message
  }))
  return issues.length === 0 ? Effect.succeed({ ...seed, shape }) : Effect.fail(describe(`(shape ${shape})`, issues))
}

/** A seed from a literal in code; throws `SeedError` if it is invalid (meant for tests and fixtures). */
export const make = (json: SeedJson): Seed => Either.getOrThrow(decodeWith(json, undefined))

/** The JSON form of a seed (what `PUT /__mock/seed` and `--seed FILE` take). Generated events are not included. */
export const toJson = (seed: Seed): SeedJson => Schema.encodeSync(Seed)(seed)

// ---------------------------------------------------------------------------
// The demo dataset
// ---------------------------------------------------------------------------

const hiddenLogin = {
  method: "password",
  password: "[HIDDEN]",
  user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2)"
}

const demoJson: SeedJson = {
  plan: "enterprise",
  apiKeys: demoKeys,
  deployments: [
    {
      id: "123",
      name: "My Deployment",
      created_at: "2024-01-15T10:30:00.000Z",
      environments: [
        {
          id: "456",
          name: "Production",
          type: "production",
          api_secret: "secret-456",
          api_credentials: {
            rest: { url: "https://example.cubecloud.dev/cubejs-api" },
            sql: { host: "example.sql.cubecloud.dev", port: 5432 }
          }
        },
        {
          id: "457",
          name: "Staging (feature/zoë-metrics)",
          type: "staging",
          api_secret: "secret-457",
          branch: "feature/zoë-metrics",
          api_credentials: {
            rest: { url: "https://feature-zoe-metrics.example.cubecloud.dev/cubejs-api" },
            sql: { host: "feature-zoe-metrics.example.sql.cubecloud.dev", port: 5432 }
          }
        },
        {
          id: "458",
          name: "Development (ana.oneil)",
          type: "development",
          api_secret: "secret-458",
          user: "ana.oneil@example.com",
          api_credentials: {
            rest: { url: "https://dev-ana.example.cubecloud.dev/cubejs-api" },
            sql: { host: "dev-ana.example.sql.cubecloud.dev", port: 5432 }
          }
        }
      ]
    },
    {
      id: "124",
      name: "Analytics, EU (Données)",
      created_at: "2024-02-01T08:00:00.000Z",
      environments: [
        {
          id: "461",
          name: "Production",
          type: "production",
          api_secret: "secret-461",
          api_credentials: {
            rest: { url: "https://analytics-eu.eu.cubecloud.dev/cubejs-api" },
            sql: { host: "analytics-eu.eu.sql.cubecloud.dev", port: 5432 }
          }
        },
        {
          id: "462",
          name: "Staging (release)",
          type: "staging",
          api_secret: "secret-462",
          branch: "release",
          api_credentials: { rest: { url: "https://release.analytics-eu.eu.cubecloud.dev/cubejs-api" } }
        }
      ]
    },
    {
      id: "125",
      name: "渡辺's sandbox",
      created_at: "2024-03-10T23:15:00.000Z",
      environments: [
        {
          id: "471",
          name: "Development (k.watanabe)",
          type: "development",
          api_secret: "secret-471",
          user: "k.watanabe@example.jp",
          api_credentials: { rest: { url: "https://dev-watanabe.example.cubecloud.dev/cubejs-api" } }
        }
      ]
    }
  ],
  // Deliberately not in time order: the export sorts oldest first.
  auditLog: [
    ["evt_1", "2024-01-15T10:30:00.000Z", "Logged in", "user@example.com", null, "203.0.113.7", { method: "password" }],
    ["evt_2", "2024-01-15T10:31:12.000Z", "Created deployment", "user@example.com", "123", "203.0.113.7", {
      name: "My Deployment"
    }],
    [
      "evt_3",
      "2024-01-15T10:45:00.000Z",
      "Enabled SQL API for deployment",
      "user@example.com",
      "123",
      "203.0.113.7",
      {}
    ],
    ["evt_4", "2024-01-16T09:00:05.000Z", "Invited user", "user@example.com", null, "203.0.113.7", {
      invited: "zoe.martin@example.com",
      role: "Developer"
    }],
    ["evt_5", "2024-01-16T09:20:00.000Z", "Created user", "zoe.martin@example.com", null, "198.51.100.23", {
      name: "Zoë Martin"
    }],
    ["evt_6", "2024-01-16T09:21:40.000Z", "Logged in", "zoe.martin@example.com", null, "198.51.100.23", hiddenLogin],
    ["evt_7", "2024-01-16T11:02:00.000Z", "Created Git branch", "zoe.martin@example.com", "123", "198.51.100.23", {
      branch: "feature/zoë-metrics"
    }],
    ["evt_8", "2024-01-16T11:03:00.000Z", "Entered dev mode", "zoe.martin@example.com", "123", "198.51.100.23", {
      branch: "feature/zoë-metrics"
    }],
    [
      "evt_9",
      "2024-01-17T14:10:00.000Z",
      "Committed and merged changes to data model",
      "zoe.martin@example.com",
      "123",
      "198.51.100.23",
      { message: "Add \"orders\" cube, fix revenue, tidy joins", files: 3 }
    ],
    ["evt_10", "2024-01-17T14:10:30.000Z", "Triggered new build", null, "123", null, { reason: "merge", build: 17 }],
    [
      "evt_11",
      "2024-01-18T08:00:00.000Z",
      "Updated account SAML configuration",
      "user@example.com",
      null,
      "203.0.113.7",
      { certificate: "[HIDDEN]", entity_id: "https://idp.example.com/saml" }
    ],
    [
      "evt_12",
      "2024-01-18T08:05:00.000Z",
      "Uploaded identity provider metadata file",
      "user@example.com",
      null,
      "203.0.113.7",
      { file: "idp-metadata, v2.xml" }
    ],
    [
      "evt_13",
      "2024-01-18T08:30:00.000Z",
      "Redirected to SAML provider for login",
      "juergen.mueller@example.de",
      null,
      "192.0.2.44",
      {}
    ],
    ["evt_14", "2024-01-18T08:30:09.000Z", "Logged in via SAML", "juergen.mueller@example.de", null, "192.0.2.44", {
      name: "Jürgen Müller",
      groups: ["Analysts", "EU, Data"]
    }],
    ["evt_15", "2024-01-19T10:00:00.000Z", "Created role", "user@example.com", null, "203.0.113.7", {
      role: "Catalog reader",
      description: "Reads metadata\nno data access"
    }],
    ["evt_16", "2024-01-19T10:01:00.000Z", "Assigned role to user", "user@example.com", null, "203.0.113.7", {
      role: "Catalog reader",
      user: "k.watanabe@example.jp"
    }],
    [
      "evt_17",
      "2024-01-20T16:45:00.000Z",
      "Generated SSH key for deployment",
      "user@example.com",
      "123",
      "203.0.113.7",
      { public_key: "ssh-ed25519 AAAAC3Nz… cube", private_key: "[HIDDEN]" }
    ],
    [
      "evt_18",
      "2024-01-20T16:50:00.000Z",
      "Connected deployment to GitHub repository",
      "user@example.com",
      "123",
      "203.0.113.7",
      { repository: "acme/cube-models" }
    ],
    ["evt_19", "2024-01-21T07:12:00.000Z", "Received a Git hook", null, "123", "140.82.112.3", {
      ref: "refs/heads/main",
      sha: "9f1c2ab"
    }],
    ["evt_20", "2024-01-22T12:00:00.000Z", "Created budget", "user@example.com", null, "203.0.113.7", {
      name: "Q1, compute",
      limit_usd: 5000
    }],
    ["evt_21", "2024-01-23T09:30:00.000Z", "Requested password reset", "ana.oneil@example.com", null, "198.51.100.9", {
      token: "[HIDDEN]"
    }],
    ["evt_22", "2024-01-23T09:35:00.000Z", "Changed password", "ana.oneil@example.com", null, "198.51.100.9", {
      password: "[HIDDEN]"
    }],
    ["evt_23", "2024-01-24T13:00:00.000Z", "Created user via SCIM", null, null, "192.0.2.10", {
      user: "lukasz@example.pl",
      name: "Łukasz Żółć"
    }],
    ["evt_24", "2024-01-24T13:00:01.000Z", "Created group via SCIM", null, null, "192.0.2.10", {
      group: "Analysts \"EU\""
    }],
    [
      "evt_25",
      "2024-01-25T17:20:00.000Z",
      "Updated deployment configuration",
      "zoe.martin@example.com",
      "123",
      "198.51.100.23",
      { env: { CUBEJS_DB_PASS: "[HIDDEN]", CUBEJS_DB_HOST: "db.internal" } }
    ],
    [
      "evt_26",
      "2024-01-26T10:10:00.000Z",
      "Pulled changes to data model",
      "k.watanabe@example.jp",
      "123",
      "192.0.2.77",
      { branch: "main" }
    ],
    [
      "evt_27",
      "2024-01-29T15:00:00.000Z",
      "Generated webhook token for Git repository",
      "user@example.com",
      "123",
      "203.0.113.7",
      { token: "[HIDDEN]" }
    ],
    ["evt_28", "2024-01-31T23:59:59.000Z", "Logged out", "zoe.martin@example.com", null, "198.51.100.23", {}],
    ["evt_29", "2024-02-01T00:00:00.000Z", "Logged in", "Zoe.Martin@Example.com", null, "198.51.100.23", hiddenLogin],
    ["evt_30", "2024-02-01T08:00:00.000Z", "Created deployment", "juergen.mueller@example.de", "124", "192.0.2.44", {
      name: "Analytics, EU (Données)"
    }],
    [
      "evt_31",
      "2024-02-02T09:00:00.000Z",
      "Started uploading files",
      "juergen.mueller@example.de",
      "124",
      "192.0.2.44",
      { files: 12 }
    ],
    [
      "evt_32",
      "2024-02-02T09:01:30.000Z",
      "Finished uploading files",
      "juergen.mueller@example.de",
      "124",
      "192.0.2.44",
      { files: 12, bytes: 48213 }
    ],
    ["evt_33", "2024-02-05T11:11:11.000Z", "Removed role from user", "user@example.com", null, "203.0.113.7", {
      role: "Admin",
      user: "ivan@example.com"
    }],
    ["evt_34", "2024-02-10T18:30:00.000Z", "Updated budget", "user@example.com", null, "203.0.113.7", {
      name: "Q1, compute",
      limit_usd: { from: 5000, to: 7500 }
    }],
    ["evt_35", "2024-03-10T23:15:00.000Z", "Created deployment", "k.watanabe@example.jp", "125", "192.0.2.77", {
      name: "渡辺's sandbox"
    }],
    ["evt_36", "2024-03-11T06:00:00.000Z", "Exited dev mode", "k.watanabe@example.jp", "125", "192.0.2.77", {
      note: "done for today,\n\"see you\""
    }]
  ].reverse().map(([id, timestamp, eventName, userEmail, deploymentId, ipAddress, attributes]) => {
    const name = deploymentId === "123"
      ? "My Deployment"
      : deploymentId === "124"
      ? "Analytics, EU (Données)"
      : deploymentId === "125"
      ? "渡辺's sandbox"
      : null
    return {
      id: String(id),
      timestamp: String(timestamp),
      event_name: String(eventName),
      user_email: typeof userEmail === "string" ? userEmail : null,
      deployment_id: typeof deploymentId === "string" ? deploymentId : null,
      deployment_name: name,
      ip_address: typeof ipAddress === "string" ? ipAddress : null,
      attributes: typeof attributes === "object" && attributes !== null && !Array.isArray(attributes)
        ? { ...attributes }
        : {}
    }
  })
}

/**
 * The built-in demo dataset: the demo keys (`sk-demo-admin`, `sk-demo-viewer`
 * scoped to deployment 123, `sk-demo-auditor`), deployment `123` "My
 * Deployment" with environment `456` Production exactly as the reference
 * page shows them, two more deployments, environments of each type, and 36
 * audit events with `[HIDDEN]` values, quotes, commas, newlines and
 * non-ASCII text.
 */
export const demo: Seed = make(demoJson)

// ---------------------------------------------------------------------------
// Generated datasets
// ---------------------------------------------------------------------------

export interface GenerateOptions {
  /** How many deployments. The first keeps the demo's `123`/`456` so the demo keys and examples still work. Default: the demo's. */
  readonly deployments?: number
  /** How many audit events, generated lazily in time order. Default: the demo's 36 events. */
  readonly events?: number
  /** Same number, same data. Default: 1. */
  readonly seed?: number
}

const environmentTypes = ["production", "staging", "development"] as const

const generatedDeployment = (index: number, seed: number): Deployment => {
  const id = String(1000 + index)
  const name = `Deployment ${index + 1}${index % 7 === 3 ? ", EU (Données)" : ""}`
  const environmentCount = 1 + ((index * 31 + seed) % 3)
  return {
    id,
    name,
    createdAt: new Date(Date.UTC(2023, 0, 1) + index * 3_600_000),
    environments: Array.from({ length: environmentCount }, (_, k): Environment => {
      const type = environmentTypes[k]!
      const envId = `${id}${String(k + 1).padStart(2, "0")}`
      return {
        id: envId,
        name: type === "production"
          ? "Production"
          : type === "staging"
          ? `Staging (branch-${k})`
          : `Development (user-${k})`,
        type,
        apiSecret: `secret-${envId}-${seed}`,
        apiCredentials: {
          rest: { url: `https://d${id}-${type}.example.cubecloud.dev/cubejs-api` },
          sql: { host: `d${id}-${type}.example.sql.cubecloud.dev`, port: 5432 }
        }
      }
    })
  }
}

/**
 * A deterministic dataset of any size: the demo keys, `deployments`
 * deployments (the first is the demo's `123`), and `events` audit events
 * generated lazily in timestamp order (every 10 s from 2024-01-01), so an
 * export of 10,000,000 events streams in flat memory.
 */
export const generate = (options: GenerateOptions = {}, base: Seed = demo): Seed => {
  const seed = options.seed ?? 1
  const deployments = options.deployments === undefined
    ? base.deployments
    : [
      ...demo.deployments.slice(0, Math.min(1, options.deployments)),
      ...Array.from(
        { length: Math.max(0, options.deployments - 1) },
        (_, i) => generatedDeployment(i, seed)
      )
    ]
  if (options.events === undefined) return { ...base, deployments }
  return {
    ...base,
    deployments,
    auditLog: [],
    generatedAuditLog: {
      count: options.events,
      seed,
      startMillis: defaultStartMillis,
      stepMillis: defaultStepMillis,
      deployments: deployments.map(({ id, name }) => ({ id, name }))
    }
  }
}
