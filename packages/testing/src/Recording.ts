/**
 * Record a real tenant as a seed, to replay with `pnpm mock --seed tenant.json`
 * (`cubeplane mock record --out tenant.json`). Read with core's client, so
 * it follows cursor pages and decodes either wire shape:
 *
 * - the wire shape the server answers in (`platform` when its lists carry
 *   `pageInfo`, else `reference`), kept as `shape`;
 * - every deployment and environment the key can see, in the server's
 *   order, with the fields the seed holds (unknown extra fields are not kept);
 * - each environment's `api_secret` — which no response shows — replaced by
 *   a fresh random one and marked `api_secret_replaced`: tokens the replay
 *   mints verify only against the recording;
 * - the audit log for a date range (`start`/`end`), or none when the key or
 *   the plan may not export it (the recording's plan is then `team`, so the
 *   replay refuses the export too).
 *
 * Never a key or a token: the recording has no `apiKeys`, so the mock's demo
 * keys (`sk-demo-admin`, …) serve it.
 *
 * @since 0.2.0
 */
import type { ControlPlaneError, ControlPlaneService, Domain } from "@cubeplane/core"
import { Domain as CoreDomain } from "@cubeplane/core"
import { Chunk, Effect, Schema, Stream } from "effect"
import { randomBytes } from "node:crypto"
import * as Seed from "./Seed.js"

export interface RecordOptions {
  /** The audit log from this date or date-time (ISO 8601). */
  readonly start?: string
  /** The audit log up to this date or date-time (a date includes that whole day). */
  readonly end?: string
  /** Told about what the recording leaves out (an environment of an unknown type, an audit log it may not read). */
  readonly note?: (message: string) => Effect.Effect<void>
}

export interface RecordResult {
  readonly seed: Seed.Seed
  /** The seed file's text (JSON), ready to write. */
  readonly json: string
}

const isEnvironmentType = Schema.is(CoreDomain.EnvironmentType)

/** A fresh random secret: the real one is never visible through the API. */
const freshSecret = (): string => `replaced-${randomBytes(24).toString("base64url")}`

const toSeedEnvironment = (environment: Domain.Environment): Seed.Environment | undefined => {
  if (!isEnvironmentType(environment.type)) return undefined
  return {
    id: environment.id,
    ...(environment.name !== undefined ? { name: environment.name } : {}),
    type: environment.type,
    apiSecret: freshSecret(),
    apiSecretReplaced: true,
    ...(environment.apiCredentials !== undefined ? { apiCredentials: environment.apiCredentials } : {}),
    ...(environment.branch !== undefined ? { branch: environment.branch } : {}),
    ...(environment.user !== undefined ? { user: environment.user } : {})
  }
}

const toSeedDeployment = (
  deployment: Domain.Deployment,
  environments: ReadonlyArray<Seed.Environment>
): Seed.Deployment => ({
  id: deployment.id,
  ...(deployment.name !== undefined ? { name: deployment.name } : {}),
  ...(deployment.createdAt instanceof Date ? { createdAt: deployment.createdAt } : {}),
  ...(deployment.deploymentUrl !== undefined ? { deploymentUrl: deployment.deploymentUrl } : {}),
  ...(deployment.creationStep !== undefined ? { creationStep: deployment.creationStep } : {}),
  environments
})

const collect = <A, E>(stream: Stream.Stream<A, E>) => Effect.map(Stream.runCollect(stream), Chunk.toReadonlyArray)

const attributesOnly = Schema.decodeUnknownSync(Schema.typeSchema(Seed.AuditLogEvent))

/** Reads the tenant behind `controlPlane` into a seed. Fails with core's typed error if the server does. */
export const record = (
  controlPlane: ControlPlaneService,
  options: RecordOptions = {}
): Effect.Effect<RecordResult, ControlPlaneError> =>
  Effect.gen(function*() {
    const note = options.note ?? (() => Effect.void)
    const first = yield* controlPlane.listDeployments({ limit: 1 })
    const shape: Domain.WireShape = first.pageInfo !== undefined ? "platform" : "reference"
    const deployments: Array<Seed.Deployment> = []
    for (const deployment of yield* collect(controlPlane.deployments())) {
      const environments: Array<Seed.Environment> = []
      for (const environment of yield* collect(controlPlane.environments(deployment.id))) {
        const seeded = toSeedEnvironment(environment)
        if (seeded === undefined) {
          yield* note(
            `Environment ${environment.id} of deployment ${deployment.id} has type ${
              JSON.stringify(environment.type)
            }, which the mock does not serve: left out`
          )
        } else {
          environments.push(seeded)
        }
      }
      deployments.push(toSeedDeployment(deployment, environments))
    }
    const filter = {
      ...(options.start !== undefined ? { start: options.start } : {}),
      ...(options.end !== undefined ? { end: options.end } : {})
    }
    const auditLog = yield* collect(controlPlane.auditLogEvents(filter)).pipe(
      Effect.map((events) => ({ plan: "enterprise", events })),
      Effect.catchTag("Forbidden", (error) =>
        Effect.as(
          note(`The audit log is not recorded: ${error.message}`),
          { plan: "team", events: [] }
        ))
    )
    const seed: Seed.Seed = {
      shape,
      plan: auditLog.plan,
      apiKeys: Seed.demoKeys,
      deployments,
      // Only the fields a seed holds (unknown CSV columns are not kept).
      auditLog: auditLog.events.map((event) => attributesOnly(event))
    }
    const { apiKeys: _keys, ...file } = Seed.toJson(seed)
    return { seed, json: `${JSON.stringify(file, null, 2)}\n` }
  })
