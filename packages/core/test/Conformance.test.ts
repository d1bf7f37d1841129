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
import { DocDeployment, DocEnvironment, listBody } from "./support/documentBodies.js"

/** A field the document may leave out or set to null. */
const loose = <A, I>(schema: Schema.Schema<A, I>) => Schema.optional(Schema.NullOr(schema))

const DocToken = Schema.Struct({
  data: Schema.Struct({
    token: Schema.String,
    security_context: loose(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
    created_at: loose(Schema.String),
    expires_at: loose(Schema.String),
    scopes: loose(Schema.Array(Schema.String))
  })
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
