/**
 * Offset/limit lists as streams.
 *
 * A stream advances by the number of items it actually received (a server
 * may cap `limit`), stops at `total` or at an empty page, and fetches nothing
 * the consumer has not pulled: `Stream.take(5)` costs one request. With
 * `concurrency > 1` it fetches pages ahead once the first page has told it
 * `total` and the server's real page size, and still emits in order, never
 * skipping or repeating an item.
 *
 * @since 0.1.0
 */
import { Chunk, Effect, Option, Ref, Stream } from "effect"
import type { Page, StreamOptions } from "./Domain.js"

/** Fetches the page that starts at `offset` with at most `limit` items. */
export type FetchPage<A, E, R> = (offset: number, limit: number) => Effect.Effect<Page<A>, E, R>

/** The page size a stream asks for when none is given. */
export const defaultPageSize = 100

/** Where the next page starts, or `None` when `page` (fetched at `offset`) was the last one. */
export const nextOffset = <A>(offset: number, page: Page<A>): Option.Option<number> => {
  const received = page.items.length
  if (received === 0) return Option.none()
  const next = offset + received
  return next >= page.pagination.total ? Option.none() : Option.some(next)
}

/** Every item from `offset` on, one request at a time, each made only when the consumer pulls. */
const sequential = <A, E, R>(fetch: FetchPage<A, E, R>, offset: number, pageSize: number): Stream.Stream<A, E, R> =>
  Stream.paginateChunkEffect(
    offset,
    (at) => Effect.map(fetch(at, pageSize), (page) => [Chunk.fromIterable(page.items), nextOffset(at, page)] as const)
  )

/**
 * Every item of a list as a stream.
 *
 * @example
 * ```ts
 * const all = Pagination.stream((offset, limit) => cp.listDeployments({ offset, limit }), { concurrency: 4 })
 * ```
 */
export const stream = <A, E, R>(fetch: FetchPage<A, E, R>, options: StreamOptions = {}): Stream.Stream<A, E, R> => {
  const start = options.offset ?? 0
  const pageSize = Math.max(1, options.pageSize ?? defaultPageSize)
  const concurrency = Math.max(1, options.concurrency ?? 1)
  if (concurrency === 1) return sequential(fetch, start, pageSize)

  return Stream.unwrap(Effect.map(fetch(start, pageSize), (first) => {
    const firstItems = Stream.fromIterable(first.items)
    const afterFirst = nextOffset(start, first)
    if (Option.isNone(afterFirst)) return firstItems
    // The server's real page size: what it gave us, which may be less than we asked for.
    const step = first.items.length
    const total = first.pagination.total
    const planned: Array<number> = []
    for (let at = afterFirst.value; at < total; at += step) planned.push(at)

    return Stream.unwrap(Effect.zipWith(Ref.make(afterFirst.value), Ref.make(false), (cursor, ended) => {
      // Emit a prefetched page only where the previous one ended; fill any gap a short page left.
      // An empty page, or a gap the server cannot fill, is the end of the list (as in `sequential`).
      const emitInOrder = (at: number, page: Page<A>) =>
        Effect.gen(function*() {
          const from = yield* Ref.get(cursor)
          const gap = from < at
            ? yield* Stream.runCollect(Stream.take(sequential(fetch, from, step), at - from))
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
        Stream.mapEffect((at) => Effect.map(fetch(at, step), (page) => [at, page] as const), { concurrency }),
        Stream.mapEffect(([at, page]) => emitInOrder(at, page)),
        Stream.takeUntil((emitted) => emitted.end),
        Stream.mapConcatChunk((emitted) => emitted.items)
      )
      // If the last planned page came back short, walk on from where we are.
      const rest = Stream.unwrap(
        Effect.map(
          Effect.all([Ref.get(cursor), Ref.get(ended)]),
          ([at, isEnded]) => !isEnded && at < total ? sequential(fetch, at, step) : Stream.empty
        )
      )
      return Stream.concat(firstItems, Stream.concat(prefetched, rest))
    }))
  }))
}
