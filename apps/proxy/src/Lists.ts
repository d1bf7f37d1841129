/**
 * Forwarding the two lists, behind the list cache.
 *
 * - A key that sees every deployment (or environment) gets the upstream page
 *   as it came, redacted.
 * - A key limited to some gets a list the proxy builds: core's
 *   `Pagination.stream` walks the upstream pages (offsets or cursors,
 *   whichever the server uses), each page decoded by core's
 *   `ListCodec` (`DeploymentList` / `EnvironmentList` compiled; both wire shapes); the visible items
 *   are kept and the caller's page is cut from them, so `pagination.total`
 *   counts what this key can see and paging never skips or repeats an item.
 *   The answer is in the reference shape.
 *
 * @since 0.2.0
 */
import type * as Domain from "@cubeplane/core/Domain"
import type { ControlPlaneError } from "@cubeplane/core/Errors"
import { UnexpectedResponse } from "@cubeplane/core/Errors"
import * as ListCodec from "@cubeplane/core/ListCodec"
import * as Pagination from "@cubeplane/core/Pagination"
import { Chunk, Effect, Either, Option, ParseResult, Stream } from "effect"
import * as Answer from "./Answer.js"
import * as Cache from "./Cache.js"
import { bodyBytes, type Call, passedType, reply } from "./Call.js"
import { ProxyMetrics } from "./Metrics.js"
import type { Authorized } from "./Pipeline.js"
import * as Policy from "./Policy.js"
import * as Upstream from "./Upstream.js"
import type { ListRequest } from "./Validate.js"
import { queryString } from "./Validate.js"

/** Largest list response read from upstream. */
const maxListBytes = 8 * 1024 * 1024
/** Upstream items the proxy looks at, at most, to filter one list (200 pages of 100). */
const maxScannedItems = 200 * Pagination.defaultPageSize

/** A list answer's body: the upstream's bytes, or the JSON text of a list the proxy built. */
interface ListAnswer {
  readonly body: Uint8Array | string
  readonly contentType: string
}

const asBytes = (body: Uint8Array | string): Uint8Array => typeof body === "string" ? Buffer.from(body, "utf8") : body

type Services = Upstream.ControlPlaneUpstream | Cache.ListCache | ProxyMetrics | Policy.Grants

/** The list forwarder, its services resolved once (the app's runtime is built once). */
export const forwarder: Effect.Effect<
  (authorized: Authorized<ListRequest>) => Effect.Effect<Response>,
  never,
  Services
> = Effect.map(
  Effect.all([Upstream.ControlPlaneUpstream, Cache.ListCache, ProxyMetrics, Policy.Grants]),
  ([upstream, cache, metrics, grants]) => (authorized) => {
    const { call, key, request } = authorized
    const visible = grants.visibility(key, request.access)
    const answer = (): Effect.Effect<ListAnswer, ControlPlaneError> =>
      visible === "all"
        ? request.itemsKey === "deployments"
          ? passThrough(call, request, upstream, ListCodec.deployments)
          : passThrough(call, request, upstream, ListCodec.environments)
        : request.itemsKey === "deployments"
        ? filtered(call, request, visible, upstream, ListCodec.deployments)
        : filtered(call, request, visible, upstream, ListCodec.environments)
    const answered = (result: Effect.Effect<ListAnswer, ControlPlaneError>) =>
      Effect.match(result, {
        onSuccess: (list) =>
          reply(call, 200, typeof list.body === "string" ? list.body : bodyBytes(list.body), {
            "Content-Type": list.contentType
          }),
        onFailure: (error) => Answer.fromError(call, error, upstream.redactor, metrics)
      })
    if (!cache.enabled) return answered(answer())
    const cacheKey = `${request.operation}\n${Policy.scopeName(visible)}\n${request.upstreamPath}`
    return Effect.flatMap(cache.get(cacheKey), (hit) => {
      if (hit !== undefined) {
        metrics.cache.inc([request.operation, "hit"])
        call.cacheResult = "HIT"
        return Effect.succeed(
          reply(call, 200, bodyBytes(hit.body), { "Content-Type": hit.contentType, "X-Cache": "HIT" })
        )
      }
      metrics.cache.inc([request.operation, "miss"])
      call.cacheResult = "MISS"
      call.headers["X-Cache"] = "MISS"
      return answered(
        Effect.tap(
          answer(),
          (list) => cache.set(cacheKey, { status: 200, contentType: list.contentType, body: asBytes(list.body) })
        )
      )
    })
  }
)

/**
 * One upstream GET, its (small) body read whole, handed to `then` with the response: one step
 * per hop, no intermediate pair (this runs for every list request).
 */
const get = <A>(
  call: Call,
  upstream: Upstream.Upstream,
  request: ListRequest,
  path: string,
  then: (body: Uint8Array, response: Upstream.UpstreamResponse) => Effect.Effect<A, ControlPlaneError>
): Effect.Effect<A, ControlPlaneError> =>
  Effect.flatMap(
    upstream.send({
      operation: request.operation,
      method: "GET",
      path,
      accept: "application/json",
      requestId: call.requestId
    }),
    (response) => {
      call.upstreamStatus = response.status
      return Effect.flatMap(Upstream.readBody(response, maxListBytes), (body) => then(body, response))
    }
  )

/**
 * The upstream page as it came (redacted), for a key that sees everything — once core's codec has
 * read it as a list, as the scoped path and the typed client do: a 200 that is not a list (an HTML
 * page, a JSON error, text) is the same 502 on every path, not a body passed on under a JSON type.
 */
const passThrough = <A>(
  call: Call,
  request: ListRequest,
  upstream: Upstream.Upstream,
  codec: ListCodec.ListCodec<A>
) =>
  get(call, upstream, request, request.upstreamPath, (body, response): Either.Either<ListAnswer, ControlPlaneError> => {
    const decoded = decodePage(codec, request, body, response)
    if (Either.isLeft(decoded)) return Either.left(decoded.left)
    return Either.right({
      body: upstream.redactor.bytes(body),
      contentType: passedType(response.headers["content-type"], "json")
    })
  })

/** The list as this key sees it: every upstream page walked, visible items kept, the caller's page cut. */
const filtered = <A extends { readonly id: unknown }>(
  call: Call,
  request: ListRequest,
  visible: ReadonlySet<string>,
  upstream: Upstream.Upstream,
  codec: ListCodec.ListCodec<A>
): Effect.Effect<ListAnswer, ControlPlaneError> => {
  // The first page is fetched here, and a one-page list is answered in the same step; only a
  // list longer than one page goes on through `Pagination.stream` (offsets or cursors), whose
  // machinery costs more than a one-page list's whole decode (see bench/proxy.ts).
  // The first page's path, as `pagePath` writes it for offset 0.
  const { listBase } = request
  const firstPage = `${listBase}${listBase.includes("?") ? "&" : "?"}offset=0&limit=${Pagination.defaultPageSize}`
  return get(call, upstream, request, firstPage, (body, response): Effect.Effect<ListAnswer, ControlPlaneError> => {
    const decoded = decodePage(codec, request, body, response)
    if (Either.isLeft(decoded)) return Either.left(decoded.left)
    const first = decoded.right
    const next = continuation(first)
    if (typeof next === "string") return Either.left(notFollowable(request, next))
    if (next === undefined) {
      const shown: Array<A> = []
      for (const item of first.items) if (visible.has(String(item.id))) shown.push(item)
      return answer(codec, request, upstream, shown)
    }
    return following(call, request, visible, upstream, codec, first, next)
  })
}

/** A page's body decoded by core's codec (an `Either` is also the effect of its value or error). */
const decodePage = <A>(
  codec: ListCodec.ListCodec<A>,
  request: ListRequest,
  body: Uint8Array,
  response: Upstream.UpstreamResponse
): Either.Either<Domain.Page<A>, ControlPlaneError> =>
  Either.mapLeft(
    codec.decodeJson(
      (Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength)).toString("utf8")
    ),
    (error) => unexpected(response.status, request, error)
  )

/** The caller's page of the visible items, encoded by core's codec (the reference shape), redacted. */
const answer = <A>(
  codec: ListCodec.ListCodec<A>,
  request: ListRequest,
  upstream: Upstream.Upstream,
  all: ReadonlyArray<A>
): Either.Either<ListAnswer, ControlPlaneError> => {
  const { page } = request
  const encoded = codec.encode({
    items: all.slice(page.offset, page.offset + page.limit),
    pagination: { offset: page.offset, limit: page.limit, total: all.length }
  })
  return Either.isRight(encoded)
    ? Either.right({ body: upstream.redactor.text(JSON.stringify(encoded.right)), contentType: "application/json" })
    : Either.left(unexpected(200, request, encoded.left))
}

const notFollowable = (request: ListRequest, reason: string): ControlPlaneError =>
  new UnexpectedResponse({
    message: `the upstream ${request.itemsKey} list cannot be followed: ${reason}`,
    detail: reason,
    method: "GET",
    path: request.listBase,
    status: 200
  })

/** A list longer than one page: the rest of its pages walked by core's `Pagination.stream`. */
const following = <A extends { readonly id: unknown }>(
  call: Call,
  request: ListRequest,
  visible: ReadonlySet<string>,
  upstream: Upstream.Upstream,
  codec: ListCodec.ListCodec<A>,
  first: Domain.Page<A>,
  next: Domain.StreamOptions
): Effect.Effect<ListAnswer, ControlPlaneError> => {
  const { listBase } = request
  const separator = listBase.includes("?") ? "&" : "?"
  const pagePath = (options: Domain.PageOptions) =>
    listBase + separator + queryString([
      ["offset", options.offset],
      ["limit", options.limit],
      ["first", options.first],
      ["after", options.after]
    ]).slice(1)
  const fetchPage = (options: Domain.PageOptions) =>
    get(call, upstream, request, pagePath(options), (body, response) => decodePage(codec, request, body, response))
  const pageSize = Pagination.defaultPageSize
  return Stream.concat(
    Stream.fromIterable(first.items),
    Pagination.stream(fetchPage, { pageSize, ...next }, (reason) => notFollowable(request, reason))
  ).pipe(
    Stream.take(maxScannedItems),
    Stream.filter((item) => visible.has(String(item.id))),
    Stream.take(visible.size),
    Stream.runCollect,
    Effect.flatMap((all) => answer(codec, request, upstream, Chunk.toReadonlyArray(all)))
  )
}

/** Where a list goes on after its first page: nowhere, an offset, a cursor, or what is wrong. */
const continuation = (first: Domain.Page<unknown>): Domain.StreamOptions | undefined | string => {
  const info = first.pageInfo
  if (info !== undefined) {
    if (info.hasNextPage !== true) return undefined
    const cursor = info.endCursor ?? undefined
    return cursor === undefined || cursor === ""
      ? "the server says hasNextPage but sends no pageInfo.endCursor to continue from"
      : { after: cursor }
  }
  return Option.match(Pagination.nextOffset(0, first), { onNone: () => undefined, onSome: (offset) => ({ offset }) })
}

const unexpected = (status: number, request: ListRequest, error: ParseResult.ParseError) =>
  new UnexpectedResponse({
    message: `an unexpected ${request.itemsKey} list (${
      ParseResult.ArrayFormatter.formatErrorSync(error)[0]?.message ?? "does not decode"
    })`,
    detail: ParseResult.TreeFormatter.formatErrorSync(error),
    method: "GET",
    path: request.listBase,
    status
  })
