/**
 * The compiled list codec gives exactly what the schemas give: the same
 * pages (fields, their order, extra fields kept), the same encoded bodies
 * byte for byte, the same errors — on bodies of both wire shapes generated
 * from Cube's published document, on bodies made odd at random, and on
 * pages generated from the domain types. And the common case never needs
 * the schema.
 */
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck, ParseResult, Schema } from "effect"
import * as Domain from "../src/Domain.js"
import * as ListCodec from "../src/ListCodec.js"
import { DocDeployment, DocEnvironment, listBody } from "./support/documentBodies.js"

interface List<A, I, RI> {
  readonly key: string
  readonly schema: Schema.Schema<Domain.Page<A>, I>
  readonly codec: ListCodec.ListCodec<A>
  readonly row: Schema.Schema<A, RI>
}

const messageOf = (error: ParseResult.ParseError) => ParseResult.TreeFormatter.formatErrorSync(error)

/**
 * The same value, strictly: the same prototypes, the same own fields in the same order,
 * `Date`s at the same time, everything else `Object.is` (a field named `constructor` included).
 */
const same = (a: unknown, b: unknown): boolean => {
  if (Object.is(a, b)) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  if (a instanceof Date && b instanceof Date) return Object.is(a.getTime(), b.getTime())
  const keys = Reflect.ownKeys(a)
  const otherKeys = Reflect.ownKeys(b)
  return keys.length === otherKeys.length && keys.every((key, i) =>
    key === otherKeys[i] &&
    same(Object.getOwnPropertyDescriptor(a, key)?.value, Object.getOwnPropertyDescriptor(b, key)?.value)
  )
}

/** Both results alike: equal values with their fields in the same order, or the same error. */
const expectSame = <A>(
  fast: Either.Either<A, ParseResult.ParseError>,
  bySchema: Either.Either<A, ParseResult.ParseError>
) => {
  if (Either.isRight(bySchema)) {
    expect(fast).toSatisfy(Either.isRight)
    if (Either.isLeft(fast)) return
    // On a difference, `toEqual` shows where; `same` also holds the order of fields to account.
    if (!same(fast.right, bySchema.right)) expect(fast.right).toEqual(bySchema.right)
    expect(same(fast.right, bySchema.right)).toBe(true)
  } else {
    expect(fast).toSatisfy(Either.isLeft)
    if (Either.isRight(fast)) return
    expect(messageOf(fast.left)).toBe(messageOf(bySchema.left))
  }
}

/** Sets a field as JSON would have it, `__proto__` included (an own field, not the prototype). */
const setField = <T extends object>(target: T, key: string, value: unknown): T =>
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })

/** Field names that matter to the codec: the domain names of renamed fields, `__proto__`, known names. */
const oddKey = FastCheck.oneof(
  FastCheck.constantFrom(
    "__proto__",
    "createdAt",
    "created_at",
    "apiCredentials",
    "api_credentials",
    "id",
    "name",
    "type",
    "branch",
    "constructor",
    "toString",
    "rest",
    "sql",
    "url",
    "port",
    "total",
    "offset",
    "endCursor",
    "hasNextPage",
    "deployments",
    "environments",
    "data",
    "items",
    "pagination",
    "pageInfo",
    "count",
    "totalCount"
  ),
  FastCheck.string({ maxLength: 6 })
)

/** A JSON value, odd ones included: floats, huge integers, nulls, arrays, objects. */
const oddValue = FastCheck.oneof(
  FastCheck.jsonValue({ maxDepth: 2 }),
  // ISO timestamps, canonical (read digit by digit) or from beyond year 9999 and before 1970 (six-digit years).
  FastCheck.date({ noInvalidDate: true }).map((date) => date.toISOString()),
  FastCheck.constantFrom(null, 1.5, 2 ** 60, -0, "", "2024-02-30T00:00:00Z", "not a date", [], {})
)

/** A path through a body (object keys and array indexes), and what to put there. */
const edits = FastCheck.array(
  FastCheck.record({
    path: FastCheck.array(FastCheck.oneof(oddKey, FastCheck.nat(3)), { minLength: 1, maxLength: 4 }),
    value: oddValue
  }),
  { minLength: 1, maxLength: 4 }
)

/** The body with each edit applied where its path leads (steps that lead nowhere are skipped). */
const edited = (body: unknown, changes: ReadonlyArray<{ path: ReadonlyArray<string | number>; value: unknown }>) => {
  const copy: unknown = JSON.parse(JSON.stringify(body))
  for (const change of changes) {
    // A copy of the value each time: a value placed twice must not become a cycle.
    const value: unknown = JSON.parse(JSON.stringify(change.value))
    const path = change.path
    let at: unknown = copy
    for (const step of path.slice(0, -1)) {
      if (typeof at !== "object" || at === null) break
      const next: unknown = Array.isArray(at) && typeof step === "number"
        ? at[step % Math.max(at.length, 1)]
        : Object.getOwnPropertyDescriptor(at, String(step))?.value
      if (typeof next === "object" && next !== null) at = next
    }
    const last = path[path.length - 1]!
    if (Array.isArray(at) && typeof last === "number") at[last % Math.max(at.length, 1)] = value
    else if (typeof at === "object" && at !== null && !Array.isArray(at)) setField(at, String(last), value)
  }
  return copy
}

/** Fields of rows set at random: `{ row, key, value }`, applied to every array of rows in the body. */
const rowEdits = FastCheck.array(
  FastCheck.record({ row: FastCheck.nat(7), key: oddKey, value: oddValue }),
  { minLength: 1, maxLength: 3 }
)

const withRowEdits = (
  body: unknown,
  key: string,
  changes: ReadonlyArray<{ row: number; key: string; value: unknown }>
): unknown => {
  const copy: unknown = JSON.parse(JSON.stringify(body))
  if (typeof copy !== "object" || copy === null) return copy
  const data: unknown = Object.getOwnPropertyDescriptor(copy, "data")?.value
  const nested: unknown = typeof data === "object" && data !== null
    ? Object.getOwnPropertyDescriptor(data, key)?.value
    : undefined
  for (const rows of [data, nested, Object.getOwnPropertyDescriptor(copy, "items")?.value]) {
    if (!Array.isArray(rows) || rows.length === 0) continue
    for (const change of changes) {
      const row: unknown = rows[change.row % rows.length]
      if (typeof row === "object" && row !== null) setField(row, change.key, JSON.parse(JSON.stringify(change.value)))
    }
  }
  return copy
}

const numRuns = 300

const suite = <A extends object, I, RI, R>(
  list: List<A, I, RI>,
  bodies: FastCheck.Arbitrary<{ readonly body: Record<string, unknown>; readonly rows: ReadonlyArray<R> }>
) =>
  describe(`ListCodec.${list.key}`, () => {
    const bySchema = Schema.decodeUnknownEither(Schema.parseJson(list.schema))
    const encodeSchema = Schema.encodeEither(list.schema)

    it("decodes every body the document allows as the schema does", () =>
      FastCheck.assert(
        FastCheck.property(bodies, ({ body }) => {
          const text = JSON.stringify(body)
          expectSame(list.codec.decodeJson(text), bySchema(text))
        }),
        { numRuns }
      ))

    it("decodes those bodies by hand: the common case never asks the schema", () =>
      FastCheck.assert(
        FastCheck.property(bodies, ({ body, rows }) => {
          // Cube's array form of credentials is the schema's to decode.
          const arrayCredentials = rows.some((row) =>
            typeof row === "object" && row !== null && "api_credentials" in row && Array.isArray(row.api_credentials)
          )
          const page = list.codec.decodeCommon(JSON.stringify(body))
          if (arrayCredentials) return
          expect(page).toBeDefined()
        }),
        { numRuns }
      ))

    it("decodes bodies made odd at random (extra, renamed, wrong or missing fields) as the schema does", () =>
      FastCheck.assert(
        FastCheck.property(bodies, edits, ({ body }, changes) => {
          const text = JSON.stringify(edited(body, changes))
          expectSame(list.codec.decodeJson(text), bySchema(text))
        }),
        { numRuns: 1000 }
      ))

    it("decodes rows with odd fields (extra, renamed, of another type) as the schema does", () =>
      FastCheck.assert(
        FastCheck.property(bodies, rowEdits, ({ body }, changes) => {
          const text = JSON.stringify(withRowEdits(body, list.key, changes))
          expectSame(list.codec.decodeJson(text), bySchema(text))
        }),
        { numRuns: 1000 }
      ))

    it("refuses what is not a list as the schema does", () =>
      FastCheck.assert(
        FastCheck.property(
          FastCheck.oneof(
            FastCheck.json(),
            FastCheck.string(),
            FastCheck.constant("{\"data\":"),
            FastCheck.constant(`{"data":{"${list.key}":[null]}}`),
            FastCheck.constant(`{"items":{},"data":[]}`)
          ),
          (text) => expectSame(list.codec.decodeJson(text), bySchema(text))
        ),
        { numRuns }
      ))

    it("encodes decoded pages, and the pages the proxy cuts from them, byte for byte as the schema does", () =>
      FastCheck.assert(
        FastCheck.property(bodies, edits, rowEdits, FastCheck.nat(8), FastCheck.nat(8), (
          { body },
          changes,
          rowChanges,
          offset,
          limit
        ) => {
          const odd = [JSON.stringify(edited(body, changes)), JSON.stringify(withRowEdits(body, list.key, rowChanges))]
          for (const text of [JSON.stringify(body), ...odd]) {
            const page = bySchema(text)
            if (Either.isLeft(page)) continue
            expectSame(list.codec.encode(page.right), encodeSchema(page.right))
            const cut: Domain.Page<A> = {
              items: page.right.items.slice(offset, offset + limit),
              pagination: { offset, limit, total: page.right.items.length }
            }
            expectSame(list.codec.encode({ ...page.right, ...cut }), encodeSchema({ ...page.right, ...cut }))
          }
        }),
        { numRuns }
      ))

    it("encodes pages generated from the domain types as the schema does, errors included", () =>
      FastCheck.assert(
        FastCheck.property(
          FastCheck.record({
            items: FastCheck.array(Arbitrary.make(Schema.typeSchema(list.row)), { maxLength: 4 }),
            pagination: Arbitrary.make(Schema.UndefinedOr(Schema.typeSchema(Domain.Pagination))),
            pageInfo: Arbitrary.make(Schema.UndefinedOr(Schema.typeSchema(Domain.PageInfo)))
          }),
          FastCheck.option(FastCheck.record({ index: FastCheck.nat(3), key: oddKey, value: FastCheck.anything() })),
          (generated, odd) => {
            const items = [...generated.items]
            const target = items[odd?.index ?? 0]
            if (odd !== null && target !== undefined) {
              items[odd.index % items.length] = setField({ ...target }, odd.key, odd.value)
            }
            const page: Domain.Page<A> = { ...generated, items }
            expectSame(list.codec.encode(page), encodeSchema(page))
          }
        ),
        { numRuns }
      ))
  })

suite(
  { key: "deployments", schema: Domain.DeploymentList, codec: ListCodec.deployments, row: Domain.Deployment },
  listBody("deployments", DocDeployment)
)
suite(
  { key: "environments", schema: Domain.EnvironmentList, codec: ListCodec.environments, row: Domain.Environment },
  listBody("environments", DocEnvironment)
)

describe("ListCodec: the common case", () => {
  it("encodes the pages it decoded by hand by hand too", () => {
    const text = JSON.stringify({
      data: { deployments: [{ id: 1, name: "a", created_at: "2024-01-15T10:30:00.000Z", extra: { x: 1 } }] },
      pagination: { offset: 0, limit: 20, total: 1 }
    })
    const page = ListCodec.deployments.decodeCommon(text)
    expect(page?.items).toStrictEqual([
      { id: "1", name: "a", createdAt: new Date("2024-01-15T10:30:00.000Z"), extra: { x: 1 } }
    ])
    expect(page === undefined ? undefined : ListCodec.deployments.encodeCommon(page)).toStrictEqual({
      data: { deployments: [{ id: "1", name: "a", created_at: "2024-01-15T10:30:00.000Z", extra: { x: 1 } }] },
      pagination: { offset: 0, limit: 20, total: 1 }
    })
  })
})
