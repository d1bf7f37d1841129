/**
 * The proxy configuration's schemas: keys and their grants, rate limits, the
 * cache, the upstream, the server's timeouts, `/metrics` and the shared
 * store. The file's keys are snake_case like the API's wire format; the
 * decoded value is camelCase. Reading a file (YAML, line numbers, the rules
 * a schema cannot say) is `Config.parse`; `Config` re-exports all of these.
 *
 * @since 0.2.0
 */
import * as Api from "@cubeplane/core/Api"
import * as Dates from "@cubeplane/core/Dates"
import { Either, ParseResult, Schema } from "effect"
import { isIP } from "node:net"

/** An operation name or `"*"` for all four. */
export const GrantedOperation = Schema.Union(Api.Operation, Schema.Literal("*"))
export type GrantedOperation = typeof GrantedOperation.Type

const Id = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_.:-]{1,128}$/, {
    message: () => "an id is 1 to 128 letters, digits, `_`, `-`, `.` or `:`"
  })
)

const PositiveInt = Schema.Int.pipe(Schema.positive({ message: () => "Expected an integer ≥ 1" }))
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative({ message: () => "Expected an integer ≥ 0" }))

/** `sha256:<64 hex>` or the bare hex digest, as `cubeplane-proxy keygen` prints it; decoded to lower-case hex. */
export const KeyHash = Schema.transform(
  Schema.String.pipe(
    Schema.pattern(/^(sha256:)?[0-9a-fA-F]{64}$/, {
      message: () => "Expected `sha256:` followed by 64 hex digits (run `cubeplane-proxy keygen`)"
    })
  ),
  Schema.String,
  {
    strict: true,
    decode: (text) => text.replace(/^sha256:/, "").toLowerCase(),
    encode: (hex) => `sha256:${hex}`
  }
)

export const TokenRules = Schema.Struct({
  maxExpiresIn: Schema.optional(PositiveInt).pipe(Schema.fromKey("max_expires_in")),
  securityContext: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })).pipe(
    Schema.fromKey("security_context")
  ),
  scopes: Schema.optional(Schema.Array(Schema.String))
})
export type TokenRules = typeof TokenRules.Type

export const Grant = Schema.Struct({
  operations: Schema.NonEmptyArray(GrantedOperation),
  deployments: Schema.optional(Schema.Array(Id)),
  environments: Schema.optional(Schema.Array(Id)),
  token: Schema.optional(TokenRules)
})
export type Grant = typeof Grant.Type

export const RateLimit = Schema.Struct({
  requests: PositiveInt,
  windowSeconds: Schema.optionalWith(PositiveInt, { default: () => 60 }).pipe(Schema.fromKey("window_seconds"))
})
export type RateLimit = typeof RateLimit.Type

const instantExample = "Expected an ISO 8601 instant with a time zone, e.g. 2026-12-31T00:00:00Z"

/**
 * An ISO 8601 instant with a time zone (`Z` or `+02:00`), decoded to epoch
 * milliseconds. Whether it names a real day and time is core's one date rule
 * (`Dates.parse`); the proxy adds only that an expiry must say its zone.
 */
export const ExpiresAt = Schema.transformOrFail(Schema.String, Schema.Number, {
  strict: true,
  decode: (text, _, ast) =>
    Either.match(Dates.parse(text), {
      onLeft: (reason) =>
        ParseResult.fail(
          new ParseResult.Type(ast, text, reason === "not a date" ? instantExample : `${instantExample} (${reason})`)
        ),
      onRight: (bound) =>
        bound.dateOnly || !/(Z|[+-]\d{2}:?\d{2})$/i.test(text)
          ? ParseResult.fail(new ParseResult.Type(ast, text, instantExample))
          : ParseResult.succeed(bound.millis)
    }),
  encode: (at) => ParseResult.succeed(new Date(at).toISOString())
})

export const KeyConfig = Schema.Struct({
  name: Schema.String.pipe(
    Schema.pattern(/^[A-Za-z0-9_.@-]{1,64}$/, {
      message: () => "a key name is 1 to 64 letters, digits, `_`, `-`, `.` or `@`"
    })
  ),
  hash: KeyHash,
  rateLimit: Schema.optional(RateLimit).pipe(Schema.fromKey("rate_limit")),
  /** After this instant the key is refused with 401 "key expired" (ISO 8601, e.g. `2026-12-31T00:00:00Z`). */
  expiresAt: Schema.optional(ExpiresAt).pipe(Schema.fromKey("expires_at")),
  grants: Schema.Array(Grant)
})
export type KeyConfig = typeof KeyConfig.Type

export const CacheConfig = Schema.Struct({
  ttlSeconds: Schema.optionalWith(NonNegativeInt, { default: () => 0 }).pipe(Schema.fromKey("ttl_seconds")),
  maxEntries: Schema.optionalWith(PositiveInt, { default: () => 1000 }).pipe(Schema.fromKey("max_entries"))
})
export type CacheConfig = typeof CacheConfig.Type

export const UpstreamSettings = Schema.Struct({
  timeoutMs: Schema.optionalWith(PositiveInt, { default: () => 10_000 }).pipe(Schema.fromKey("timeout_ms")),
  retries: Schema.optionalWith(NonNegativeInt, { default: () => 2 })
})
export type UpstreamSettings = typeof UpstreamSettings.Type

/** Timeouts of the proxy's own HTTP server (the caller's side). Each has a default; see `serverDefaults`. */
export const ServerSettings = Schema.Struct({
  /** Time a caller has to send all request headers. */
  headersTimeoutMs: Schema.optional(PositiveInt).pipe(Schema.fromKey("headers_timeout_ms")),
  /** Time a caller has to send the whole request (headers and body); responses are not bounded by it. */
  requestTimeoutMs: Schema.optional(PositiveInt).pipe(Schema.fromKey("request_timeout_ms")),
  /** How long an idle keep-alive connection stays open between requests. */
  keepAliveTimeoutMs: Schema.optional(PositiveInt).pipe(Schema.fromKey("keep_alive_timeout_ms")),
  /**
   * A connection on which the caller is idle this long is closed (no traffic, or an export it stopped
   * reading); not while the proxy waits for the upstream, which `upstream.timeout_ms` bounds.
   */
  idleTimeoutMs: Schema.optional(PositiveInt).pipe(Schema.fromKey("idle_timeout_ms"))
})
export type ServerSettings = typeof ServerSettings.Type

export const serverDefaults = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 60_000
} as const

/** Who may read `/metrics`: anyone on the proxy's port (default), holders of a key, or only a separate port. */
export const MetricsSettings = Schema.Struct({
  /** `/metrics` needs `Authorization: Bearer <key>` for the key with this hash (`cubeplane-proxy keygen`). */
  keyHash: Schema.optional(KeyHash).pipe(Schema.fromKey("key_hash")),
  /** Serve `/metrics` on this port only (not on the API port), e.g. one only the scraper can reach. */
  port: Schema.optional(
    Schema.Int.pipe(Schema.between(0, 65535, { message: () => "Expected a port from 0 to 65535 (0: any free port)" }))
  ),
  /** The host of the metrics port. Default: 127.0.0.1. */
  host: Schema.optional(Schema.String)
})
export type MetricsSettings = typeof MetricsSettings.Type

/**
 * Where rate-limit windows and cached lists live: this process's memory (no `store`), or a Redis
 * shared by every replica (see `RedisStore.ts`).
 */
export const StoreSettings = Schema.Struct({
  /** `redis://[:password@]host:port/db` (or `rediss://`); `CUBEPLANE_PROXY_STORE` overrides it. */
  url: Schema.optional(Schema.String),
  /** What a rate-limited key gets while the store cannot answer: `deny` (503, default) or `allow`. */
  onStoreError: Schema.optionalWith(
    Schema.Literal("deny", "allow").annotations({
      message: () => ({ message: "Expected deny or allow", override: true })
    }),
    { default: () => "deny" as const }
  ).pipe(
    Schema.fromKey("on_store_error")
  ),
  /** Longest wait for one store command before it counts as a store error (default 1000). */
  timeoutMs: Schema.optionalWith(PositiveInt, { default: () => 1000 }).pipe(Schema.fromKey("timeout_ms")),
  /** Prefix of every Redis key the proxy writes (default `cubeplane-proxy:`). */
  keyPrefix: Schema.optionalWith(Schema.String, { default: () => "cubeplane-proxy:" }).pipe(
    Schema.fromKey("key_prefix")
  )
})
export type StoreSettings = typeof StoreSettings.Type

/** An IP address (`10.0.0.7`, `::1`) or a CIDR block (`10.0.0.0/8`, `fd00::/8`). */
export const AddressOrBlock = Schema.String.pipe(
  Schema.filter((text) => blockOf(text) !== undefined, {
    message: () => "Expected an IP address (10.0.0.7, ::1) or a CIDR block (10.0.0.0/8, fd00::/8)"
  })
)

/** `text` as `[address, prefix length, "ipv4" | "ipv6"]`, or `undefined` when it is neither an address nor a block. */
export const blockOf = (text: string): readonly [string, number, "ipv4" | "ipv6"] | undefined => {
  const [address = "", prefix, ...rest] = text.split("/")
  const version = isIP(address)
  if (version === 0 || rest.length > 0) return undefined
  const bits = version === 4 ? 32 : 128
  if (prefix === undefined) return [address, bits, version === 4 ? "ipv4" : "ipv6"]
  const length = /^\d{1,3}$/.test(prefix) ? Number(prefix) : -1
  return length >= 0 && length <= bits ? [address, length, version === 4 ? "ipv4" : "ipv6"] : undefined
}

/**
 * Failed authentications (an unknown key) per client address: after `limit` in a window of
 * `window_seconds` (from the first), every request from the address is refused 429 until the
 * window ends. The address is the socket's, or — only when the socket's is one of
 * `trusted_proxies` — the nearest address in `X-Forwarded-For` that is not.
 */
export const AuthFailureSettings = Schema.Struct({
  /** Failed authentications allowed per address and window; 0 turns the limit off. Default 20. */
  limit: Schema.optional(NonNegativeInt),
  /** Default 60. */
  windowSeconds: Schema.optional(PositiveInt).pipe(Schema.fromKey("window_seconds")),
  /** Reverse proxies / load balancers in front of this proxy, whose `X-Forwarded-For` is believed. Default none. */
  trustedProxies: Schema.optional(Schema.Array(AddressOrBlock)).pipe(Schema.fromKey("trusted_proxies"))
})
export type AuthFailureSettings = typeof AuthFailureSettings.Type

export const authFailureDefaults = { limit: 20, windowSeconds: 60 } as const

export const ProxyConfig = Schema.Struct({
  server: Schema.optional(ServerSettings),
  authFailures: Schema.optional(AuthFailureSettings).pipe(Schema.fromKey("auth_failures")),
  store: Schema.optional(StoreSettings),
  metrics: Schema.optional(MetricsSettings),
  upstream: Schema.optionalWith(UpstreamSettings, { default: () => ({ timeoutMs: 10_000, retries: 2 }) }),
  cache: Schema.optionalWith(CacheConfig, { default: () => ({ ttlSeconds: 0, maxEntries: 1000 }) }),
  keys: Schema.Array(KeyConfig)
})
export type ProxyConfig = typeof ProxyConfig.Type
