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
import { fileURLToPath } from "node:url"
import type { GeneratedAuditLog } from "./internal/generator.js"
import { defaultStartMillis, defaultStepMillis } from "./internal/generator.js"
import type { Issue } from "./internal/issues.js"
import { formatPath, issuesOf, render } from "./internal/issues.js"
// The demo's JSON, bundled with the module (a bundled CLI carries it too); `demoFile()` is the same file.
import demoJson from "./seeds/demo.json" with { type: "json" }

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
  /** Optional: a recorded deployment may have none. */
  name: Schema.optional(Schema.String),
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

/**
 * The demo dataset's file, shipped in the package (`seeds/demo.json` beside this module): `Seed.load(Seed.demoFile())`
 * reads it as any seed file is read. A function, since a bundled copy of this module may have no file URL.
 */
export const demoFile = (): string => fileURLToPath(new URL("./seeds/demo.json", import.meta.url))

/**
 * The built-in demo dataset, from `seeds/demo.json` (decoded by `Seed.decode`, as every seed): the demo keys
 * (`sk-demo-admin`, `sk-demo-viewer` scoped to deployment 123, `sk-demo-auditor`), deployment `123` "My
 * Deployment" with environment `456` Production exactly as the reference page shows them, two more
 * deployments, environments of each type, and 36 audit events (stored out of order) with `[HIDDEN]` values,
 * quotes, commas, newlines and non-ASCII text.
 */
export const demo: Seed = Either.getOrThrow(decodeWith(demoJson, "(seeds/demo.json)"))

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
      deployments: deployments.map(({ id, name }) => ({ id, name: name ?? id }))
    }
  }
}
