/**
 * Pagination streams against a fake lister with a server-side cap (asks 100,
 * gets 7) and a latency in virtual time.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Clock, Duration, Effect, Either, Fiber, Option, Stream, TestClock } from "effect"
import type { Page, PageOptions, StreamOptions } from "../src/Domain.js"
import * as Pagination from "../src/Pagination.js"

interface ListerOptions {
  /** What `pagination.total` says. */
  readonly total: number
  /** How many items the server really has (default: `total`). */
  readonly available?: number
  /** The server's cap on `limit`. */
  readonly cap: number
  /** Per request, in virtual time. */
  readonly latency?: Duration.DurationInput
  /** Offsets at which the server returns fewer items than it could, and how many. */
  readonly short?: ReadonlyMap<number, number>
}

const fakeLister = (options: ListerOptions) => {
  const requests: Array<{ readonly offset: number; readonly limit: number }> = []
  let inFlight = 0
  let maxInFlight = 0
  const available = options.available ?? options.total
  const fetch: Pagination.FetchPage<number, never, never> = ({ limit = 20, offset = 0 }) =>
    Effect.gen(function*() {
      requests.push({ offset, limit })
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      if (options.latency !== undefined) yield* Effect.sleep(options.latency)
      inFlight--
      const size = options.short?.get(offset) ?? Math.min(limit, options.cap)
      const items: Array<number> = []
      for (let i = offset; i < Math.min(offset + size, available); i++) items.push(i)
      const page: Page<number> = {
        items,
        pagination: { offset, limit: Math.min(limit, options.cap), total: options.total }
      }
      return page
    })
  return { fetch, requests, maxInFlight: () => maxInFlight }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

/** Collects a stream while advancing virtual time in 10 ms steps; returns the items and the virtual time it took. */
const collectTimed = <A>(stream: Stream.Stream<A>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const fiber = yield* Effect.fork(Stream.runCollect(stream))
    while (Option.isNone(yield* Fiber.poll(fiber))) yield* TestClock.adjust("10 millis")
    const items = Chunk.toArray(yield* Fiber.join(fiber))
    return { items, elapsed: (yield* Clock.currentTimeMillis) - start }
  })

const never = (reason: string): never => {
  throw new Error(`unexpected paging error: ${reason}`)
}

const all = (lister: ReturnType<typeof fakeLister>, options: StreamOptions = {}) =>
  Stream.runCollect(Pagination.stream(lister.fetch, options, never)).pipe(Effect.map(Chunk.toArray))

describe("Pagination.stream", () => {
  it.effect("asks for 100, gets 7: advances by what it received, every item exactly once, in order", () =>
    Effect.gen(function*() {
      const lister = fakeLister({ total: 50, cap: 7 })
      expect(yield* all(lister)).toEqual(range(0, 50))
      expect(lister.requests.map((r) => r.offset)).toEqual([0, 7, 14, 21, 28, 35, 42, 49])
      expect(lister.requests.every((r) => r.limit === 100)).toBe(true)
    }))

  it.effect("stops at total without asking for a page past it", () =>
    Effect.gen(function*() {
      const lister = fakeLister({ total: 14, cap: 7 })
      expect(yield* all(lister)).toEqual(range(0, 14))
      expect(lister.requests).toHaveLength(2)
    }))

  it.effect("stops at an empty page even if total promised more", () =>
    Effect.gen(function*() {
      const lister = fakeLister({ total: 100, available: 10, cap: 7 })
      expect(yield* all(lister)).toEqual(range(0, 10))
      expect(lister.requests.map((r) => r.offset)).toEqual([0, 7, 10])
    }))

  it.effect("stops at an empty page with prefetch too", () =>
    Effect.gen(function*() {
      const lister = fakeLister({ total: 100, available: 10, cap: 7 })
      expect(yield* all(lister, { concurrency: 4 })).toEqual(range(0, 10))
    }))

  it.effect("an empty list is one request", () =>
    Effect.gen(function*() {
      const lister = fakeLister({ total: 0, cap: 7 })
      expect(yield* all(lister, { concurrency: 4 })).toEqual([])
      expect(lister.requests).toHaveLength(1)
    }))

  it.effect("Stream.take(5) costs exactly one request, sequential or prefetching", () =>
    Effect.gen(function*() {
      for (const concurrency of [1, 4]) {
        const lister = fakeLister({ total: 1000, cap: 7 })
        const items = yield* Stream.runCollect(Stream.take(Pagination.stream(lister.fetch, { concurrency }, never), 5))
        expect(Chunk.toArray(items)).toEqual([0, 1, 2, 3, 4])
        expect(lister.requests, `concurrency ${concurrency}`).toHaveLength(1)
      }
    }))

  it.effect("fetches nothing the consumer has not pulled (sequential)", () =>
    Effect.gen(function*() {
      const lister = fakeLister({ total: 1000, cap: 7 })
      yield* Stream.runCollect(Stream.take(Pagination.stream(lister.fetch, {}, never), 8))
      expect(lister.requests).toHaveLength(2)
    }))

  it.effect("starts at the given offset with the given page size", () =>
    Effect.gen(function*() {
      const lister = fakeLister({ total: 30, cap: 100 })
      expect(yield* all(lister, { offset: 10, pageSize: 8 })).toEqual(range(10, 30))
      expect(lister.requests).toEqual([{ offset: 10, limit: 8 }, { offset: 18, limit: 8 }, { offset: 26, limit: 8 }])
    }))

  it.effect("prefetch (concurrency 4) emits the same items in order, in fewer round trips of virtual time", () =>
    Effect.gen(function*() {
      const sequentialLister = fakeLister({ total: 100, cap: 7, latency: "100 millis" })
      const sequential = yield* collectTimed(Pagination.stream(sequentialLister.fetch, {}, never))
      const prefetchLister = fakeLister({ total: 100, cap: 7, latency: "100 millis" })
      const prefetch = yield* collectTimed(Pagination.stream(prefetchLister.fetch, { concurrency: 4 }, never))

      expect(sequential.items).toEqual(range(0, 100))
      expect(prefetch.items).toEqual(sequential.items)
      // 15 pages one after another: 15 round trips. Prefetching: the first, then 14 in waves of 4.
      expect(sequential.elapsed).toBe(1500)
      expect(prefetch.elapsed).toBe(500)
      expect(prefetchLister.requests).toHaveLength(15)
      expect(prefetchLister.maxInFlight()).toBe(4)
    }))

  it.effect("a short page in the middle loses no item and repeats none", () =>
    Effect.gen(function*() {
      for (const concurrency of [1, 4, 8]) {
        const lister = fakeLister({ total: 50, cap: 7, short: new Map([[14, 3], [35, 1]]) })
        expect(yield* all(lister, { concurrency }), `concurrency ${concurrency}`).toEqual(range(0, 50))
      }
    }))

  it.effect("a short last planned page: walks on until total", () =>
    Effect.gen(function*() {
      const lister = fakeLister({ total: 21, cap: 7, short: new Map([[14, 2]]) })
      expect(yield* all(lister, { concurrency: 4 })).toEqual(range(0, 21))
    }))

  it.effect("nextOffset: by the items received, none at total or on an empty page", () =>
    Effect.sync(() => {
      const page = (n: number, total: number): Page<number> => ({
        items: range(0, n),
        pagination: { offset: 0, limit: 100, total }
      })
      expect(Pagination.nextOffset(0, page(7, 50))).toEqual(Option.some(7))
      expect(Pagination.nextOffset(43, page(7, 50))).toEqual(Option.none())
      expect(Pagination.nextOffset(0, page(0, 50))).toEqual(Option.none())
    }))

  it.effect("no total: a page shorter than the limit the server applied is the last", () =>
    Effect.sync(() => {
      const page = (n: number, limit?: number): Page<number> => ({
        items: range(0, n),
        pagination: limit === undefined ? {} : { limit }
      })
      expect(Pagination.nextOffset(0, page(20, 20))).toEqual(Option.some(20))
      expect(Pagination.nextOffset(20, page(5, 20))).toEqual(Option.none())
      expect(Pagination.nextOffset(0, page(5))).toEqual(Option.some(5))
    }))
})

/** A cursor server: `first`/`after` in, `pageInfo` out; refuses a request that mixes offset/limit with first/after. */
const cursorLister = (options: {
  readonly size: number
  readonly cap: number
  /** Breaks the server: the cursor it hands out. */
  readonly cursorOf?: (lastIndex: number) => string | null
  readonly hasNext?: (lastIndex: number) => boolean
  readonly empty?: boolean
}) => {
  const requests: Array<PageOptions> = []
  const fetch: Pagination.FetchPage<number, string, never> = (request) =>
    Effect.gen(function*() {
      requests.push(request)
      const mixed = (request.first !== undefined || request.after !== undefined) &&
        (request.offset !== undefined || request.limit !== undefined)
      if (mixed) return yield* Effect.fail("mixed offset/limit with first/after")
      const start = request.after !== undefined ? Number(request.after.slice(1)) + 1 : request.offset ?? 0
      const count = Math.min(request.first ?? request.limit ?? 20, options.cap)
      const items = options.empty === true ? [] : range(start, Math.min(start + count, options.size))
      const last = items.length > 0 ? items[items.length - 1]! : start
      const page: Page<number> = {
        items,
        pageInfo: {
          hasNextPage: options.hasNext?.(last) ?? last + 1 < options.size,
          endCursor: options.cursorOf !== undefined ? options.cursorOf(last) ?? undefined : `c${last}`
        }
      }
      return page
    })
  return { fetch, requests }
}

const collect = <A, E>(stream: Stream.Stream<A, E>) =>
  Effect.either(Stream.runCollect(stream).pipe(Effect.map(Chunk.toArray)))

describe("Pagination.stream by cursor", () => {
  it.effect("follows endCursor with first/after, never mixing them with offset/limit", () =>
    Effect.gen(function*() {
      const lister = cursorLister({ size: 25, cap: 10 })
      const result = yield* collect(Pagination.stream(lister.fetch, { pageSize: 10 }, (reason) => reason))
      expect(result).toEqual(Either.right(range(0, 25)))
      expect(lister.requests).toEqual([
        { offset: 0, limit: 10 },
        { first: 10, after: "c9" },
        { first: 10, after: "c19" }
      ])
    }))

  it.effect("with prefetch asked for, a cursor list is still fetched one page after the other", () =>
    Effect.gen(function*() {
      const lister = cursorLister({ size: 25, cap: 10 })
      const result = yield* collect(Pagination.stream(lister.fetch, { pageSize: 10, concurrency: 4 }, (r) => r))
      expect(result).toEqual(Either.right(range(0, 25)))
      expect(lister.requests.slice(1).every((r) => r.after !== undefined && r.offset === undefined)).toBe(true)
    }))

  it.effect("starts after a given cursor", () =>
    Effect.gen(function*() {
      const lister = cursorLister({ size: 25, cap: 10 })
      const result = yield* collect(Pagination.stream(lister.fetch, { pageSize: 10, after: "c14" }, (r) => r))
      expect(result).toEqual(Either.right(range(15, 25)))
      expect(lister.requests[0]).toEqual({ first: 10, after: "c14" })
    }))

  it.effect("Stream.take(3) costs one request", () =>
    Effect.gen(function*() {
      const lister = cursorLister({ size: 1000, cap: 10 })
      yield* collect(Stream.take(Pagination.stream(lister.fetch, {}, (r) => r), 3))
      expect(lister.requests).toHaveLength(1)
    }))

  it.effect("a cursor that repeats is an error, not a loop", () =>
    Effect.gen(function*() {
      const lister = cursorLister({ size: 1000, cap: 10, cursorOf: (last) => last < 20 ? `c${last}` : "c19" })
      const result = yield* collect(Pagination.stream(lister.fetch, { pageSize: 10 }, (reason) => reason))
      expect(Either.isLeft(result) && result.left).toContain(`the server sent the cursor "c19" again`)
      expect(lister.requests.length).toBeLessThanOrEqual(4)
    }))

  it.effect("hasNextPage without an endCursor is an error", () =>
    Effect.gen(function*() {
      const lister = cursorLister({ size: 1000, cap: 10, cursorOf: () => null })
      const result = yield* collect(Pagination.stream(lister.fetch, {}, (reason) => reason))
      expect(Either.isLeft(result) && result.left).toContain("no pageInfo.endCursor")
    }))

  it.effect("a hasNextPage that never ends on empty pages is an error after a few pages", () =>
    Effect.gen(function*() {
      let n = 0
      const lister = cursorLister({ size: 0, cap: 10, empty: true, hasNext: () => true, cursorOf: () => `x${n++}` })
      const result = yield* collect(Pagination.stream(lister.fetch, {}, (reason) => reason))
      expect(Either.isLeft(result) && result.left).toContain("empty pages in a row")
      expect(lister.requests).toHaveLength(Pagination.maxEmptyPages)
    }))
})
