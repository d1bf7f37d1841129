/**
 * Conformance to Cube's published document (`cube-platform-api.md`): bodies
 * generated at random from a model of the document's schemas — every optional
 * field absent, `null` or present, ids as integers or strings, rows in `data`,
 * in `items` or in both — all decode, and a list keeps every row.
 */
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck, Schema } from "effect"
import * as Domain from "../src/Domain.js"
import { firstIssue } from "../src/Errors.js"

/** A field the document may leave out or set to null. */
const loose = <A, I>(schema: Schema.Schema<A, I>) => Schema.optional(Schema.NullOr(schema))

const DocId = Schema.Union(Schema.Int, Schema.String.pipe(Schema.minLength(1)))

const DocDeployment = Schema.Struct({
  id: DocId,
  name: loose(Schema.String),
  deploymentUrl: loose(Schema.String),
  creationStep: loose(Schema.Literal("project", "upload", "schema", "github", "ssh", "databases", "ready", "demo")),
  created_at: loose(Schema.String)
})

const DocPageInfo = Schema.Struct({
  hasNextPage: loose(Schema.Boolean),
  hasPreviousPage: loose(Schema.Boolean),
  startCursor: loose(Schema.String),
  endCursor: loose(Schema.String)
})

const DocPagination = Schema.Struct({ offset: loose(Schema.Int), limit: loose(Schema.Int), total: loose(Schema.Int) })

const DocCredential = Schema.Struct({
  type: Schema.Literal("rest", "sql"),
  version: Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)),
  url: loose(Schema.String),
  host: loose(Schema.String),
  port: loose(Schema.Int),
  database: loose(Schema.String)
})

const DocEnvironment = Schema.Struct({
  id: DocId,
  type: Schema.Literal("production", "staging", "development"),
  name: loose(Schema.String),
  api_credentials: Schema.Union(
    Schema.Array(DocCredential),
    Schema.Struct({
      rest: loose(Schema.Struct({ url: loose(Schema.String) })),
      sql: loose(Schema.Struct({ host: loose(Schema.String), port: loose(Schema.Int) }))
    }),
    Schema.Null
  ),
  branch: loose(Schema.String),
  user: loose(Schema.String)
})

const DocToken = Schema.Struct({
  data: Schema.Struct({
    token: Schema.String,
    security_context: loose(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
    created_at: loose(Schema.String),
    expires_at: loose(Schema.String),
    scopes: loose(Schema.Array(Schema.String))
  })
})

/** A top-level value that may be absent (undefined, dropped from the body), null or present. */
const absentNullOr = <A, I>(schema: Schema.Schema<A, I>) => Schema.UndefinedOr(Schema.NullOr(schema))

type Placement = "data" | "items" | "both" | "nested"

/** A list body in one of the shapes a server may use, its rows placed per `placement`. */
const listBody = <R>(key: string, row: Schema.Schema<R, R>) =>
  FastCheck.record({
    rows: FastCheck.array(Arbitrary.make(row), { maxLength: 8 }),
    placement: FastCheck.constantFrom<Placement>("data", "items", "both", "nested"),
    pageInfo: Arbitrary.make(absentNullOr(DocPageInfo)),
    pagination: Arbitrary.make(absentNullOr(DocPagination)),
    count: Arbitrary.make(absentNullOr(Schema.Int)),
    totalCount: Arbitrary.make(absentNullOr(Schema.Int))
  }).map(({ placement, rows, ...rest }) => {
    const body: Record<string, unknown> = {}
    for (const [name, value] of Object.entries(rest)) if (value !== undefined) body[name] = value
    if (placement === "data" || placement === "both") body.data = rows
    if (placement === "items" || placement === "both") body.items = rows
    if (placement === "nested") body.data = { [key]: rows }
    return { body, rows }
  })

const decodeList = <A, I>(schema: Schema.Schema<A, I>) => (body: unknown) => {
  const result = Schema.decodeUnknownEither(schema)(JSON.parse(JSON.stringify(body)))
  return Either.mapLeft(result, firstIssue)
}

describe("Conformance to Cube's published document", () => {
  it("every deployment list the document allows decodes, keeping every row and every id as a string", () =>
    FastCheck.assert(
      FastCheck.property(listBody("deployments", DocDeployment), ({ body, rows }) => {
        const page = decodeList(Domain.DeploymentList)(body)
        expect(page).toSatisfy(Either.isRight)
        if (Either.isLeft(page)) return
        expect(page.right.items).toHaveLength(rows.length)
        expect(page.right.items.map((d) => d.id)).toEqual(rows.map((r) => String(r.id)))
      }),
      { numRuns: 300 }
    ))

  it("every environment list the document allows decodes, credentials in either form", () =>
    FastCheck.assert(
      FastCheck.property(listBody("environments", DocEnvironment), ({ body, rows }) => {
        const page = decodeList(Domain.EnvironmentList)(body)
        expect(page).toSatisfy(Either.isRight)
        if (Either.isLeft(page)) return
        expect(page.right.items).toHaveLength(rows.length)
        page.right.items.forEach((environment, i) => {
          const credentials = rows[i]!.api_credentials
          if (Array.isArray(credentials)) {
            const rest = credentials.filter((c) => c.type === "rest").at(-1)
            if (
              rest?.url !== undefined && rest.url !== null && credentials.filter((c) => c.type === "rest").length === 1
            ) {
              expect(environment.apiCredentials?.rest?.url).toBe(rest.url)
            }
          }
        })
      }),
      { numRuns: 300 }
    ))

  it("every token response the document allows decodes; odd timestamps are kept as text", () =>
    FastCheck.assert(
      FastCheck.property(Arbitrary.make(DocToken), (body) => {
        const token = Schema.decodeUnknownEither(Domain.MetaSyncTokenResponse)(JSON.parse(JSON.stringify(body)))
        expect(token).toSatisfy(Either.isRight)
        if (Either.isLeft(token)) return
        const createdAt = body.data.created_at
        if (typeof createdAt === "string") {
          expect(token.right.createdAt instanceof Date || token.right.createdAt === createdAt).toBe(true)
        }
      }),
      { numRuns: 300 }
    ))

  it("the reference page's shapes are unchanged: encoding a decoded reference body gives it back", () =>
    FastCheck.assert(
      FastCheck.property(
        FastCheck.array(
          FastCheck.record({
            id: FastCheck.string({ minLength: 1 }),
            name: FastCheck.string(),
            created_at: FastCheck.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) =>
              d.toISOString()
            )
          }),
          { maxLength: 5 }
        ),
        (deployments) => {
          const body = { data: { deployments }, pagination: { offset: 0, limit: 20, total: deployments.length } }
          const page = Schema.decodeUnknownSync(Domain.DeploymentList)(body)
          expect(Schema.encodeSync(Domain.DeploymentList)(page)).toEqual(body)
        }
      ),
      { numRuns: 100 }
    ))
})
