/**
 * Bodies in the shapes Cube's published document allows (`cube-platform-api.md`),
 * generated at random: every optional field absent, `null` or present, ids as
 * integers or strings, rows in flat `data`, in `items`, in both, or nested in
 * `data.<key>` (the reference page). Shared by the conformance and the list codec tests.
 */
import { Arbitrary, FastCheck, Schema } from "effect"

/** A field the document may leave out or set to null. */
export const loose = <A, I>(schema: Schema.Schema<A, I>) => Schema.optional(Schema.NullOr(schema))

export const DocId = Schema.Union(Schema.Int, Schema.String.pipe(Schema.minLength(1)))

export const DocDeployment = Schema.Struct({
  id: DocId,
  name: loose(Schema.String),
  deploymentUrl: loose(Schema.String),
  creationStep: loose(Schema.Literal("project", "upload", "schema", "github", "ssh", "databases", "ready", "demo")),
  created_at: loose(Schema.String)
})

export const DocPageInfo = Schema.Struct({
  hasNextPage: loose(Schema.Boolean),
  hasPreviousPage: loose(Schema.Boolean),
  startCursor: loose(Schema.String),
  endCursor: loose(Schema.String)
})

export const DocPagination = Schema.Struct({
  offset: loose(Schema.Int),
  limit: loose(Schema.Int),
  total: loose(Schema.Int)
})

export const DocCredential = Schema.Struct({
  type: Schema.Literal("rest", "sql"),
  version: Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)),
  url: loose(Schema.String),
  host: loose(Schema.String),
  port: loose(Schema.Int),
  database: loose(Schema.String)
})

export const DocEnvironment = Schema.Struct({
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

/** A top-level value that may be absent (undefined, dropped from the body), null or present. */
export const absentNullOr = <A, I>(schema: Schema.Schema<A, I>) => Schema.UndefinedOr(Schema.NullOr(schema))

export type Placement = "data" | "items" | "both" | "nested"

/** A list body in one of the shapes a server may use, its rows placed per `placement`. */
export const listBody = <R>(key: string, row: Schema.Schema<R, R>) =>
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
