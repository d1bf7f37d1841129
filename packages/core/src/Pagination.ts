/**
 * Lists as streams, paged by offset or by cursor, whichever the server does.
 *
 * The first request asks by offset (`offset` / `limit`), or by cursor when
 * the caller starts `after` one. From then on the server's answer decides:
 *
 * - A page with `pageInfo` (Cube's platform API) is followed by cursor:
 *   `first` / `after: pageInfo.endCursor` while `hasNextPage`, never mixed
 *   with offset/limit in one request. A cursor the stream has already
 *   followed, or `hasNextPage` with no cursor, fails the stream with the
 *   caller's `invalid` error instead of looping; so do too many empty pages
 *   in a row that still claim a next page.
 * - Otherwise (the reference page) by offset: the stream advances by the
 *   number of items it actually received (a server may cap `limit`), stops
 *   at `total`, at an empty page, or — when the server gave no total — at a
 *   page shorter than the `limit` it said it applied.
 *
 * Nothing is fetched before the consumer pulls it: `Stream.take(5)` costs one
 * request. With `concurrency > 1`, offset lists whose first page told the
 * `total` are fetched ahead and still emitted in order, never skipping or
 * repeating an item; cursor lists are sequential by nature.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import type { Page, PageOptions, StreamOptions } from "./Domain.js"
import { totalOf } from "./Domain.js"

/** Fetches one page: by `offset`/`limit`, or by `first`/`after`. */
export type FetchPage<A, E, R> = (options: PageOptions) => Effect.Effect<Page<A>, E, R>

/** The page size a stream asks for when none is given. */
export const defaultPageSize = 100

/** Empty pages in a row that may still claim `hasNextPage` before the stream gives up. */
export const maxEmptyPages = 5

/** Where the next offset page starts, or `None` when `page` (fetched at `offset`) was the last one. */
export const nextOffset = <A>(offset: number, page: Page<A>): Option.Option<number> => {
  const received = page.items.length
  if (received === 0) return Option.none()
  const next = offset + received
  const total = totalOf(page)
  if (total !== undefined) return next >= total ? Option.none() : Option.some(next)
  // No total: a page shorter than the limit the server applied is the last one.
  const applied = page.pagination?.limit ?? undefined
  return applied !== undefined && applied > 0 && received < applied ? Option.none() : Option.some(next)
}

/** The next request after `page`, `None` at the end, or a `string` saying why the list cannot go on. */
type Step =
  | { readonly _tag: "Offset"; readonly at: number }
  | { readonly _tag: "Cursor"; readonly after: string; readonly seen: ReadonlySet<string>; readonly empty: number }

const requestOf = (step: Step, pageSize: number): PageOptions =>
  step._tag === "Offset" ? { offset: step.at, limit: pageSize } : { first: pageSize, after: step.after }

/** What follows `page`, fetched by `step`: the next step, the end (`None`), or why the list is broken. */
const after = <A>(step: Step, page: Page<A>): Option.Option<Step> | string => {
  const info = page.pageInfo
  if (info !== undefined) {
    if (info.hasNextPage !== true) return Option.none()
    const cursor = info.endCursor ?? undefined
    if (cursor === undefined || cursor === "") {
      return "the server says hasNextPage but sends no pageInfo.endCursor to continue from"
    }
    const seen = step._tag === "Cursor" ? step.seen : new Set<string>()
    if (seen.has(cursor) || (step._tag === "Cursor" && step.after === cursor)) {
      return `the server sent the cursor ${JSON.stringify(cursor)} again; stopping instead of looping`
    }
    const empty = page.items.length === 0 ? (step._tag === "Cursor" ? step.empty : 0) + 1 : 0
    if (empty >= maxEmptyPages) {
      return `${empty} empty pages in a row still claim hasNextPage; stopping instead of looping`
    }
    const nextSeen = new Set(seen)
    if (step._tag === "Cursor") nextSeen.add(step.after)
    return Option.some({ _tag: "Cursor", after: cursor, seen: nextSeen, empty })
  }
  if (step._tag === "Cursor") {
    // A server that answered a cursor request without pageInfo: nothing says where to go on.
    return Option.none()
  }
  return Option.map(nextOffset(step.at, page), (at): Step => ({ _tag: "Offset", at }))
}

/** Every item from `step` on, one request at a time, each made only when the consumer pulls. */
const sequential = <A, E, R>(
  fetch: FetchPage<A, E, R>,
  first: Step,
  pageSize: number,
  invalid: (reason: string) => E
): Stream.Stream<A, E, R> =>
  Stream.paginateChunkEffect(first, (step) =>
    Effect.flatMap(fetch(requestOf(step, pageSize)), (page) => {
      const next = after(step, page)
      return typeof next === "string"
        ? Effect.fail(invalid(next))
        : Effect.succeed([Chunk.fromIterable(page.items), next] as const)
    }))

/**
 * Every item of a list as a stream. `invalid` turns a server's broken paging
 * (a repeated cursor, `hasNextPage` without a cursor) into the stream's error.
 *
 * @example
 * ```ts
 * const all = Pagination.stream((page) => cp.listDeployments(page), { concurrency: 4 }, (reason) => new Error(reason))
 * ```
 */
export const stream = <A, E, R>(
  fetch: FetchPage<A, E, R>,
  options: StreamOptions,
  invalid: (reason: string) => E
): Stream.Stream<A, E, R> => {
  const pageSize = Math.max(1, options.pageSize ?? defaultPageSize)
  const concurrency = Math.max(1, options.concurrency ?? 1)
  const start: Step = options.after !== undefined
    ? { _tag: "Cursor", after: options.after, seen: new Set(), empty: 0 }
    : { _tag: "Offset", at: options.offset ?? 0 }
  if (concurrency === 1 || start._tag === "Cursor") return sequential(fetch, start, pageSize, invalid)

  return Stream.unwrap(Effect.flatMap(fetch(requestOf(start, pageSize)), (first) => {
    const firstItems = Stream.fromIterable(first.items)
    const next = after(start, first)
    if (typeof next === "string") return Effect.fail(invalid(next))
    if (Option.isNone(next)) return Effect.succeed(firstItems)
    const total = totalOf(first)
    // Cursors, or no total to plan with: go on one page at a time.
    if (next.value._tag === "Cursor" || total === undefined) {
      return Effect.succeed(Stream.concat(firstItems, sequential(fetch, next.value, pageSize, invalid)))
    }
    const afterFirst = next.value.at
    // The server's real page size: what it gave us, which may be less than we asked for.
    const step = first.items.length
    const planned: Array<number> = []
    for (let at = afterFirst; at < total; at += step) planned.push(at)
    const offsetFrom = (at: number) => sequential(fetch, { _tag: "Offset", at }, step, invalid)
    const fetchAt = (at: number) => fetch({ offset: at, limit: step })

    return Effect.zipWith(Ref.make(afterFirst), Ref.make(false), (cursor, ended) => {
      // Emit a prefetched page only where the previous one ended; fill any gap a short page left.
      // An empty page, or a gap the server cannot fill, is the end of the list (as in `sequential`).
      const emitInOrder = (at: number, page: Page<A>) =>
        Effect.gen(function*() {
          const from = yield* Ref.get(cursor)
          const gap = from < at
            ? yield* Stream.runCollect(Stream.take(offsetFrom(from), at - from))
            : Chunk.empty<A>()
          const reached = from + gap.length
          if (reached < at || page.items.length === 0) {
            yield* Ref.set(cursor, reached)
            yield* Ref.set(ended, true)
            return { items: gap, end: true }
          }
          // A page may overlap what we already emitted if the gap-filling ran into it; skip the overlap.
          const fresh = page.items.slice(Math.max(0, reached - at))
          yield* Ref.set(cursor, Math.max(reached, at + page.items.length))
          return { items: Chunk.appendAll(gap, Chunk.fromIterable(fresh)), end: false }
        })
      const prefetched = Stream.fromIterable(planned).pipe(
        Stream.mapEffect((at) => Effect.map(fetchAt(at), (page) => [at, page] as const), { concurrency }),
        Stream.mapEffect(([at, page]) => emitInOrder(at, page)),
        Stream.takeUntil((emitted) => emitted.end),
        Stream.mapConcatChunk((emitted) => emitted.items)
      )
      // If the last planned page came back short, walk on from where we are.
      const rest = Stream.unwrap(
        Effect.map(
          Effect.all([Ref.get(cursor), Ref.get(ended)]),
          ([at, isEnded]) => !isEnded && at < total ? offsetFrom(at) : Stream.empty
        )
      )
      return Stream.concat(firstItems, Stream.concat(prefetched, rest))
    })
  }))
}
