/**
 * Property: whatever the seed, what the mock sends in the platform shape decodes with core's
 * list schemas, and paging through it (by cursor or by offset) keeps every row, once, in order.
 */
import { Domain } from "@cubeplane/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck, Schema } from "effect"
import { MockServer, MockStore, Seed } from "../src/index.js"

const maybe = <A>(arbitrary: FastCheck.Arbitrary<A>) => FastCheck.option(arbitrary, { nil: undefined })

const credentials = FastCheck.record({
  rest: maybe(FastCheck.record({ url: maybe(FastCheck.webUrl()) }, { requiredKeys: [] })),
  sql: maybe(
    FastCheck.record({
      host: maybe(FastCheck.domain()),
      port: maybe(FastCheck.integer({ min: 1, max: 65_535 })),
      database: maybe(FastCheck.string())
    }, { requiredKeys: [] })
  )
}, { requiredKeys: [] })

const environment = (id: string) =>
  FastCheck.record({
    name: maybe(FastCheck.string()),
    type: FastCheck.constantFrom("production", "staging", "development"),
    branch: maybe(FastCheck.option(FastCheck.string(), { nil: null })),
    user: maybe(FastCheck.option(FastCheck.string(), { nil: null })),
    apiCredentials: maybe(credentials)
  }).map((e): Seed.Environment => {
    const out: Record<string, unknown> = { id, type: e.type, apiSecret: `s-${id}` }
    for (const [k, v] of Object.entries(e)) if (v !== undefined && k !== "type") out[k] = v
    return Schema.decodeUnknownSync(Schema.typeSchema(Seed.Environment))(out)
  })

const deployment = (id: number) =>
  FastCheck.record({
    name: FastCheck.string(),
    deploymentUrl: maybe(FastCheck.webUrl()),
    creationStep: maybe(FastCheck.constantFrom("project", "upload", "schema", "ready", "demo")),
    createdAt: maybe(FastCheck.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true })),
    environmentCount: FastCheck.integer({ min: 0, max: 8 })
  }).chain(({ environmentCount, ...d }) =>
    FastCheck.tuple(...Array.from({ length: environmentCount }, (_, k) => environment(`${id}-${k}`))).map(
      (environments): Seed.Deployment => {
        const out: Record<string, unknown> = { id: String(id), environments }
        for (const [k, v] of Object.entries(d)) if (v !== undefined) out[k] = v
        return Schema.decodeUnknownSync(Schema.typeSchema(Seed.Deployment))(out)
      }
    )
  )

const seeds = FastCheck.uniqueArray(FastCheck.integer({ min: -1e9, max: 1e12 }), { maxLength: 45 }).chain((ids) =>
  FastCheck.tuple(...ids.map(deployment)).map((deployments): Seed.Seed => ({
    ...Seed.demo,
    shape: "platform",
    deployments
  }))
)

const decodeDeployments = Schema.decodeUnknownSync(Domain.DeploymentList)
const decodeEnvironments = Schema.decodeUnknownSync(Domain.EnvironmentList)
const auth = { authorization: "Bearer sk-demo-admin" }

/** Every page of a list, following `pageInfo.endCursor` (or offsets), decoded with core's schema. */
const pages = async <A>(
  app: ReturnType<typeof MockServer.app>,
  path: string,
  decode: (body: unknown) => Domain.Page<A>,
  by: "cursor" | "offset",
  size: number
): Promise<Array<A>> => {
  const rows: Array<A> = []
  let query = by === "cursor" ? `first=${size}` : `offset=0&limit=${size}`
  for (let guard = 0; guard < 1000; guard++) {
    const response = await app.request(`${path}?${query}`, { headers: auth })
    expect(response.status).toBe(200)
    const page = decode(await response.json())
    rows.push(...page.items)
    if (page.pageInfo?.hasNextPage !== true) return rows
    query = by === "cursor"
      ? `first=${size}&after=${page.pageInfo.endCursor}`
      : `offset=${rows.length}&limit=${size}`
  }
  throw new Error("paging did not end")
}

describe("the platform shape, property", () => {
  it.effect("random seeds: every list decodes with core's schemas and keeps every row", () =>
    Effect.promise(() =>
      FastCheck.assert(
        FastCheck.asyncProperty(
          seeds,
          FastCheck.integer({ min: 1, max: 12 }),
          FastCheck.constantFrom<"cursor" | "offset">("cursor", "offset"),
          async (seed, size, by) => {
            const store = MockStore.make(seed)
            const app = MockServer.app(store)
            const deployments = await pages(app, "/api/v1/deployments", decodeDeployments, by, size)
            expect(deployments.map((d) => d.id)).toEqual(seed.deployments.map((d) => d.id))
            for (const [i, d] of seed.deployments.entries()) {
              expect(deployments[i]).toEqual({
                id: d.id,
                name: d.name,
                deploymentUrl: d.deploymentUrl ?? MockStore.defaultDeploymentUrl(d.id),
                creationStep: d.creationStep ?? "ready"
              })
              const environments = await pages(
                app,
                `/api/v1/deployments/${d.id}/environments`,
                decodeEnvironments,
                by,
                size
              )
              expect(environments.map((e) => e.id)).toEqual(d.environments.map((e) => e.id))
              for (const [k, e] of d.environments.entries()) {
                const got = environments[k]!
                expect(got.type).toBe(e.type)
                expect(got.name).toBeUndefined()
                // Credentials survive the array form: every value the seed holds comes back.
                expect(got.apiCredentials?.rest?.url).toBe(e.apiCredentials?.rest?.url ?? undefined)
                expect(got.apiCredentials?.sql?.host).toBe(e.apiCredentials?.sql?.host ?? undefined)
                expect(got.apiCredentials?.sql?.port).toBe(e.apiCredentials?.sql?.port ?? undefined)
              }
            }
          }
        ),
        { numRuns: 60 }
      )
    ))
})
