/**
 * The steps every `/api/v1` request passes, in this order:
 *
 *   authenticate → rate limit → validate → authorize → (cache →) forward
 *
 * Each step's input is the previous step's output, so the order is enforced
 * by the types: `forward` takes an `Authorized` request, which only
 * `authorize` makes, from a `Checked` one, which only `check` makes, from an
 * `Admitted` caller, which only `admit` makes, from an `Identified` one,
 * which only `authenticate` makes. A step that refuses gives `Refused`,
 * carrying the answer (401, 429, 400/413, 403).
 *
 * A step answers at once when its service does (keys, grants, a rate limit
 * counted in memory, a list query): a `Step` is the value itself, a
 * `Refused`, or — only where a service must wait (a shared store, a request
 * body) — an Effect of them. `andThen` chains steps without entering the
 * Effect runtime until a step really waits, so a request whose services
 * all answer at once runs one Effect program: its forwarder.
 *
 * The steps use the services (keys, rate limits, grants, metrics) through
 * their tags, resolved once when the app is built (`steps`); which store
 * backs them is the layer's business.
 *
 * @since 0.2.0
 */
import { Data, Effect } from "effect"
import * as AuthFailures from "./AuthFailures.js"
import type { Call } from "./Call.js"
import { fail } from "./Call.js"
import type { ClientAddress } from "./ClientAddress.js"
import type { KeyConfig } from "./Config.js"
import * as Keys from "./Keys.js"
import * as LiveConfig from "./LiveConfig.js"
import { ProxyMetrics } from "./Metrics.js"
import type * as Policy from "./Policy.js"
import { Grants } from "./Policy.js"
import * as RateLimit from "./RateLimit.js"

/** A step said no; `response` is the answer. */
export class Refused extends Data.TaggedError("Refused")<{ readonly response: Response }> {}

export const refuse = (response: Response): Refused => new Refused({ response })

/** A refusal's answer, as the pipeline's result. */
export const refusal = (refused: Refused): Effect.Effect<Response> => Effect.succeed(refused.response)

/** A step's outcome: at once (the value or a refusal), or an Effect of it where a service must wait. */
export type Step<A> = A | Refused | Effect.Effect<A, Refused>

/** Whether a step waits (the values of steps are never Effects). */
export const waits = <A>(step: Step<A>): step is Effect.Effect<A, Refused> =>
  !(step instanceof Refused) && Effect.isEffect(step)

/** `next` on a step's value: at once when the step answered at once, in the Effect when it waits. */
export const andThen = <A, B>(step: Step<A>, next: (value: A) => Step<B>): Step<B> => {
  if (step instanceof Refused) return step
  if (waits(step)) return Effect.flatMap(step, (value) => asEffect(next(value)))
  return next(step)
}

/** A step as an Effect (for a step that waits). */
export const asEffect = <A>(step: Step<A>): Effect.Effect<A, Refused> =>
  step instanceof Refused ? Effect.fail(step) : waits(step) ? step : Effect.succeed(step)

/** What validation must produce for the policy: the access asked for. */
export interface Checkable {
  readonly access: Policy.Access
}

// The stages are classes this module alone constructs (only their types are exported).
class IdentifiedCaller {
  constructor(readonly call: Call, readonly key: KeyConfig) {}
}
class AdmittedCaller {
  readonly admitted = true
  constructor(readonly call: Call, readonly key: KeyConfig) {}
}
class CheckedRequest<R extends Checkable> {
  readonly checked = true
  constructor(readonly call: Call, readonly key: KeyConfig, readonly request: R) {}
}
class AuthorizedRequest<R extends Checkable> {
  readonly authorized = true
  constructor(
    readonly call: Call,
    readonly key: KeyConfig,
    readonly request: R,
    /** For tokens: the `expires_in` to send when the request left it out and the grant caps it. */
    readonly defaultExpiresIn: number | undefined
  ) {}
}
export type Identified = IdentifiedCaller
export type Admitted = AdmittedCaller
export type Checked<R extends Checkable> = CheckedRequest<R>
export type Authorized<R extends Checkable> = AuthorizedRequest<R>

const unauthorized = { "WWW-Authenticate": "Bearer realm=\"cubeplane-proxy\"" }

/**
 * The steps that use services, with those services resolved once: the app's runtime is built
 * once, so looking them up per request would only cost Effect steps and allocations. Which
 * store backs a service is still its layer's business.
 */
export interface Steps {
  /** The caller's proxy key, from `Authorization: Bearer <key>` (or `Api-Key <key>`). */
  readonly authenticate: (call: Call) => Step<Identified>
  /** The key's rate limit, if it has one: 429 with `Retry-After` when spent. */
  readonly admit: (caller: Identified) => Step<Admitted>
  /** The key's grants on the validated request: 403 naming the rule that refused. */
  readonly authorize: <R extends Checkable>(checked: Checked<R>) => Step<Authorized<R>>
}

/**
 * The steps; `now` is the clock of key expiry (the one rate limits and the cache use), `addressOf`
 * the caller's address that failed authentications are counted by.
 */
export const steps = (
  now: () => number,
  addressOf: ClientAddress
): Effect.Effect<
  Steps,
  never,
  Keys.ProxyKeys | RateLimit.RateLimits | Grants | ProxyMetrics | AuthFailures.AuthFailures
> =>
  Effect.map(
    Effect.all([Keys.ProxyKeys, RateLimit.RateLimits, Grants, ProxyMetrics, AuthFailures.AuthFailures]),
    ([keys, limits, grants, metrics, failures]): Steps => ({
      authenticate: (call) => authenticate(keys, failures, metrics, addressOf, now, call),
      admit: (caller) => admit(limits, metrics, caller),
      authorize: (checked) => authorize(grants, checked)
    })
  )

/** The 429 of an address with too many failed authentications (no key named: none was accepted). */
export const lockedOutAnswer = (call: Call, metrics: ProxyMetrics["Type"], seconds: number): Response => {
  metrics.authLockouts.inc([])
  return fail(
    call,
    429,
    `too many failed authentications from this address: retry in ${seconds} s with a valid proxy key`,
    { "Retry-After": String(seconds) }
  )
}

const lockedOut = (call: Call, metrics: ProxyMetrics["Type"], seconds: number): Refused =>
  refuse(lockedOutAnswer(call, metrics, seconds))

const authenticate = (
  keys: Keys.KeyRing,
  failures: AuthFailures.AuthFailures["Type"],
  metrics: ProxyMetrics["Type"],
  addressOf: ClientAddress,
  now: () => number,
  call: Call
): Step<Identified> => {
  const presented = Keys.fromAuthorization(call.header("authorization"))
  call.presented = presented
  // A locked-out address is refused before its key is looked at: it cannot go on guessing.
  const locked = AuthFailures.lockedOutFor(failures, addressOf, call)
  if (locked > 0) return lockedOut(call, metrics, locked)
  const key = presented === undefined ? undefined : keys.find(presented)
  if (key === undefined) {
    if (presented === undefined) {
      return refuse(fail(
        call,
        401,
        "missing or malformed Authorization header: send `Authorization: Bearer <proxy key>`",
        unauthorized
      ))
    }
    const unknown = () => refuse(fail(call, 401, "unknown proxy key", unauthorized))
    const counted = AuthFailures.countFailure(failures, addressOf, call)
    const decide = (seconds: number) => seconds > 0 ? lockedOut(call, metrics, seconds) : unknown()
    return Effect.isEffect(counted)
      ? Effect.flatMap(counted, (seconds) => Effect.fail(decide(seconds)))
      : decide(counted)
  }
  call.keyName = key.name
  if (key.expiresAt === undefined || !LiveConfig.isExpired(key, now())) return new IdentifiedCaller(call, key)
  return refuse(fail(call, 401, `key expired: "${key.name}" expired at ${new Date(key.expiresAt).toISOString()}`, {
    "WWW-Authenticate": "Bearer realm=\"cubeplane-proxy\", error=\"invalid_token\""
  }))
}

const admit = (
  limits: RateLimit.RateLimits["Type"],
  metrics: ProxyMetrics["Type"],
  caller: Identified
): Step<Admitted> => {
  const { call, key } = caller
  const limit = key.rateLimit
  if (limit === undefined) return new AdmittedCaller(call, key)
  const decide = (result: RateLimit.RateLimitResult): Step<Admitted> => {
    // The shared store could not count: its layer decided (store.on_store_error); no window to report.
    if (result.unavailable === true) {
      return result.allowed ? new AdmittedCaller(call, key) : refuse(fail(
        call,
        503,
        "the rate-limit store is unreachable, and this proxy refuses rate-limited keys while it is (store.on_store_error: deny); retry shortly",
        { "Retry-After": "1" }
      ))
    }
    RateLimit.setHeaders(call.headers, result)
    if (result.allowed) return new AdmittedCaller(call, key)
    metrics.rateLimited.inc([key.name])
    return refuse(fail(
      call,
      429,
      `key "${key.name}" is rate limited to ${result.limit} requests per ${limit.windowSeconds} s; retry in ${result.resetSeconds} s`,
      { "Retry-After": String(result.resetSeconds) }
    ))
  }
  // A store in this process counts at once; a shared one is asked (an Effect).
  const taken = limits.take(key.name, limit)
  return Effect.isEffect(taken) ? Effect.flatMap(taken, (result) => asEffect(decide(result))) : decide(taken)
}

/** Runs a validation (query, path ids, body with core's schemas) on an admitted caller. */
export const check = <R extends Checkable>(validate: (call: Call) => Step<R>) => (caller: Admitted): Step<Checked<R>> =>
  andThen(validate(caller.call), (request) => new CheckedRequest(caller.call, caller.key, request))

const authorize = <R extends Checkable>(
  grants: Grants["Type"],
  checked: Checked<R>
): Step<Authorized<R>> => {
  const decision = grants.authorize(checked.key, checked.request.access)
  if (!decision.allowed) {
    return refuse(fail(checked.call, 403, decision.message, undefined, { rule: decision.rule }))
  }
  return new AuthorizedRequest(checked.call, checked.key, checked.request, decision.defaultExpiresIn)
}
