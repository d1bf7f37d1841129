/**
 * The retry policy, timed in virtual time: a scripted fake `HttpClient`
 * records at which `TestClock` instant each attempt happened.
 */
import { HttpClient, HttpClientError, HttpClientResponse } from "@effect/platform"
import { assert, describe, expect, it } from "@effect/vitest"
import { Chunk, Clock, Duration, Effect, Exit, Fiber, Random, Redacted, Schedule, TestClock } from "effect"
import type { ControlPlaneService } from "../src/ControlPlane.js"
import { BadRequest, fromResponse, TransportError } from "../src/Errors.js"
import type { ControlPlaneError } from "../src/Errors.js"
import * as HttpControlPlane from "../src/HttpControlPlane.js"
import * as Retry from "../src/Retry.js"

type Step =
  | { readonly status: number; readonly headers?: Record<string, string>; readonly body?: unknown }
  | "hang"
  | "cut"
  | { readonly transport: string }

interface Attempt {
  readonly at: number
  readonly signal: AbortSignal
}

const ok = { status: 200, body: { data: { deployments: [] }, pagination: { offset: 0, limit: 20, total: 0 } } }
const token = {
  status: 200,
  body: { data: { token: "jwt", created_at: "2024-01-15T10:30:00.000Z", expires_at: "2024-01-15T11:30:00.000Z" } }
}

/** A fake `HttpClient` answering attempt `n` with `script(n)`; the last step repeats. */
const scripted = (steps: ReadonlyArray<Step>) => {
  const attempts: Array<Attempt> = []
  const client = HttpClient.make((request, _url, signal) =>
    Effect.gen(function*() {
      attempts.push({ at: yield* Clock.currentTimeMillis, signal })
      const step = steps[Math.min(attempts.length - 1, steps.length - 1)]!
      if (step === "hang") return yield* Effect.never
      if (step === "cut") {
        const cut = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode("{\"data\": {\"deploy"))
            controller.error(new Error("terminated"))
          }
        })
        return HttpClientResponse.fromWeb(request, new Response(cut, { status: 200 }))
      }
      if ("transport" in step) {
        return yield* new HttpClientError.RequestError({
          request,
          reason: "Transport",
          cause: new Error("fetch failed", {
            cause: Object.assign(new Error(step.transport), { code: step.transport })
          })
        })
      }
      return HttpClientResponse.fromWeb(
        request,
        new Response(JSON.stringify(step.body ?? { error: `status ${step.status}` }), {
          status: step.status,
          headers: { "content-type": "application/json", ...step.headers }
        })
      )
    })
  )
  return { attempts, client }
}

/** Runs `use` against the scripted server, advancing virtual time until it is done. */
const runScripted = <A>(
  steps: ReadonlyArray<Step>,
  use: (cp: ControlPlaneService) => Effect.Effect<A, ControlPlaneError>,
  options: Partial<HttpControlPlane.Options> = {}
) =>
  Effect.gen(function*() {
    const { attempts, client } = scripted(steps)
    const cp = yield* HttpControlPlane.make({
      url: "https://acme.cubecloud.dev",
      apiKey: Redacted.make("sk-SECRET"),
      ...options,
      retry: { jitter: false, ...options.retry }
    }).pipe(Effect.provideService(HttpClient.HttpClient, client))
    const start = yield* Clock.currentTimeMillis
    const fiber = yield* Effect.fork(use(cp))
    yield* TestClock.adjust("1 hour")
    const exit = yield* Fiber.await(fiber)
    return { exit, attempts, times: attempts.map((a) => a.at - start) }
  })

const list = (cp: ControlPlaneService) => cp.listDeployments()
const mint = (cp: ControlPlaneService) => cp.createMetaSyncToken("123", "456", { securityContext: { tenant_id: "a" } })

const failure = <A>(exit: Exit.Exit<A, ControlPlaneError>): ControlPlaneError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  if (Exit.isSuccess(exit)) throw new Error("unreachable")
  const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (error === undefined) throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return error
}

describe("Retry: GETs", () => {
  it.effect("back off exponentially on 503 (250ms, 500ms, 1s, 2s) and return the last error after maxRetries", () =>
    Effect.gen(function*() {
      const { exit, times } = yield* runScripted([{ status: 503 }], list)
      expect(times).toEqual([0, 250, 750, 1750, 3750])
      expect(failure(exit)._tag).toBe("ServerError")
    }))

  it.effect("stop retrying as soon as an attempt succeeds", () =>
    Effect.gen(function*() {
      const { exit, times } = yield* runScripted([{ status: 503 }, { status: 500 }, ok], list)
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(times).toEqual([0, 250, 750])
    }))

  it.effect("retry 408, 429, 502 and connection failures; never 400, 401, 403, 404, 422", () =>
    Effect.gen(function*() {
      for (const status of [408, 429, 502, 504]) {
        const { attempts } = yield* runScripted([{ status }, ok], list)
        expect(attempts, `status ${status}`).toHaveLength(2)
      }
      for (const transport of ["ECONNREFUSED", "ECONNRESET"]) {
        const { attempts } = yield* runScripted([{ transport }, ok], list)
        expect(attempts, transport).toHaveLength(2)
      }
      for (const status of [400, 401, 403, 404, 422]) {
        const { attempts } = yield* runScripted([{ status }, ok], list)
        expect(attempts, `status ${status}`).toHaveLength(1)
      }
    }))

  it.effect("a JSON body cut short is retried for a GET, never for the token POST", () =>
    Effect.gen(function*() {
      const get = yield* runScripted(["cut", ok], list)
      expect(get.times).toEqual([0, 250])
      expect(Exit.isSuccess(get.exit)).toBe(true)
      const post = yield* runScripted(["cut", token], mint)
      expect(post.attempts).toHaveLength(1)
      const error = failure(post.exit)
      assert.strictEqual(error._tag, "TransportError")
      if (error._tag === "TransportError") expect(error.reason).toBe("Body")
    }))

  it.effect("cap each backoff wait at maxDelay", () =>
    Effect.gen(function*() {
      const { times } = yield* runScripted([{ status: 500 }], list, {
        retry: { baseDelay: "1 second", maxDelay: "3 seconds", jitter: false }
      })
      expect(times).toEqual([0, 1000, 3000, 6000, 9000])
    }))

  it.effect("maxRetries: 0 turns retries off", () =>
    Effect.gen(function*() {
      const { attempts } = yield* runScripted([{ status: 503 }], list, { retry: { maxRetries: 0 } })
      expect(attempts).toHaveLength(1)
    }))

  it.effect("honour Retry-After in seconds", () =>
    Effect.gen(function*() {
      const { exit, times } = yield* runScripted([{ status: 429, headers: { "retry-after": "3" } }, ok], list)
      expect(times).toEqual([0, 3000])
      expect(Exit.isSuccess(exit)).toBe(true)
    }))

  it.effect("honour Retry-After as an HTTP date", () =>
    Effect.gen(function*() {
      const date = new Date(5000).toUTCString()
      const { times } = yield* runScripted([{ status: 503, headers: { "retry-after": date } }, ok], list)
      expect(times).toEqual([0, 5000])
    }))

  it.effect("honour retry-after-ms, which wins over Retry-After", () =>
    Effect.gen(function*() {
      const { times } = yield* runScripted(
        [{ status: 429, headers: { "retry-after-ms": "1500", "retry-after": "9" } }, ok],
        list
      )
      expect(times).toEqual([0, 1500])
    }))

  it.effect("cap a server-requested wait at maxRetryAfter (60s by default)", () =>
    Effect.gen(function*() {
      const long = { status: 429, headers: { "retry-after": "600" } }
      expect((yield* runScripted([long, ok], list)).times).toEqual([0, 60_000])
      expect((yield* runScripted([long, ok], list, { retry: { maxRetryAfter: "10 seconds" } })).times).toEqual([
        0,
        10_000
      ])
    }))

  it.effect("respectRetryAfter: false waits the backoff instead", () =>
    Effect.gen(function*() {
      const { times } = yield* runScripted([{ status: 429, headers: { "retry-after": "30" } }, ok], list, {
        retry: { respectRetryAfter: false, jitter: false }
      })
      expect(times).toEqual([0, 250])
    }))

  it.effect("jitter keeps each wait within [half, full] of the backoff, and varies it", () =>
    Effect.gen(function*() {
      const gaps: Array<number> = []
      for (const seed of [1, 2, 3]) {
        const { times } = yield* runScripted([{ status: 503 }], list, {
          retry: { jitter: true, maxRetries: 6, baseDelay: "1 second", maxDelay: "1 minute" }
        }).pipe(Effect.withRandom(Random.make(seed)))
        expect(times).toHaveLength(7)
        times.slice(1).forEach((at, i) => {
          const gap = at - times[i]!
          const full = 1000 * 2 ** i
          expect(gap).toBeGreaterThanOrEqual(full / 2)
          expect(gap).toBeLessThanOrEqual(full)
          gaps.push(gap / full)
        })
      }
      expect(new Set(gaps).size).toBeGreaterThan(1)
    }))

  it.effect("a per-attempt timeout aborts the attempt and retries it", () =>
    Effect.gen(function*() {
      const { attempts, exit, times } = yield* runScripted(["hang", ok], list, { timeout: "1 second" })
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(times).toEqual([0, 1250])
      expect(attempts[0]?.signal.aborted).toBe(true)
    }))

  it.effect("the overall deadline stops the retries, aborting the attempt in flight", () =>
    Effect.gen(function*() {
      const { attempts, exit, times } = yield* runScripted(["hang"], list, {
        timeout: "10 seconds",
        deadline: "25 seconds"
      })
      const error = failure(exit)
      assert.strictEqual(error._tag, "TransportError")
      if (error._tag === "TransportError") expect(error.reason).toBe("Deadline")
      expect(times).toEqual([0, 10_250, 20_750])
      expect(attempts.every((a) => a.signal.aborted)).toBe(true)
    }))

  it.effect("the last attempt's timeout is reported as Timeout when the deadline is not reached", () =>
    Effect.gen(function*() {
      const { exit, times } = yield* runScripted(["hang"], list, { timeout: "1 second", retry: { maxRetries: 1 } })
      const error = failure(exit)
      assert.strictEqual(error._tag, "TransportError")
      if (error._tag === "TransportError") expect(error.reason).toBe("Timeout")
      expect(times).toEqual([0, 1250])
    }))
})

describe("Retry: the token POST", () => {
  it.effect("is never retried after a 5xx or a 429: the server may have minted a token", () =>
    Effect.gen(function*() {
      for (const step of [{ status: 500 }, { status: 503 }, { status: 429, headers: { "retry-after": "1" } }]) {
        const { attempts, exit } = yield* runScripted([step, token], mint)
        expect(attempts, `status ${step.status}`).toHaveLength(1)
        const error = failure(exit)
        expect(error._tag === "TransportError" ? undefined : error.status).toBe(step.status)
      }
    }))

  it.effect("is never retried after a timeout or a reset connection", () =>
    Effect.gen(function*() {
      const timedOut = yield* runScripted(["hang", token], mint, { timeout: "5 seconds" })
      expect(timedOut.attempts).toHaveLength(1)
      const error = failure(timedOut.exit)
      assert.strictEqual(error._tag, "TransportError")
      if (error._tag === "TransportError") expect(error.reason).toBe("Timeout")
      const reset = yield* runScripted([{ transport: "ECONNRESET" }, token], mint)
      expect(reset.attempts).toHaveLength(1)
    }))

  it.effect("is retried when the connection was refused: the request never left", () =>
    Effect.gen(function*() {
      const { attempts, exit, times } = yield* runScripted(
        [{ transport: "ECONNREFUSED" }, { transport: "ENOTFOUND" }, token],
        mint
      )
      expect(attempts).toHaveLength(3)
      expect(times).toEqual([0, 250, 750])
      expect(Exit.isSuccess(exit)).toBe(true)
    }))
})

describe("Retry: the pieces", () => {
  const facts = { method: "GET", path: "/api/v1/deployments" }
  it("isRetryable by idempotency", () => {
    const refused = new TransportError({ ...facts, reason: "Connection", notSent: true, message: "refused" })
    const reset = new TransportError({ ...facts, reason: "Connection", message: "reset" })
    const body = new TransportError({ ...facts, reason: "Body", message: "cut" })
    const deadline = new TransportError({ ...facts, reason: "Deadline", message: "late" })
    expect(Retry.isRetryable(refused, "idempotent")).toBe(true)
    expect(Retry.isRetryable(reset, "idempotent")).toBe(true)
    expect(Retry.isRetryable(body, "idempotent")).toBe(true)
    expect(Retry.isRetryable(body, "unsafe")).toBe(false)
    expect(Retry.isRetryable(deadline, "idempotent")).toBe(false)
    expect(Retry.isRetryable(refused, "unsafe")).toBe(true)
    expect(Retry.isRetryable(reset, "unsafe")).toBe(false)
    expect(Retry.isRetryable(fromResponse({ ...facts, status: 503 }), "unsafe")).toBe(false)
    expect(Retry.isRetryable(fromResponse({ ...facts, status: 408 }), "idempotent")).toBe(true)
    expect(Retry.isRetryable(new BadRequest({ ...facts, status: 400, message: "no" }), "idempotent")).toBe(false)
  })

  it("retryAfterMillis parses seconds, dates and milliseconds, and ignores nonsense", () => {
    const now = Date.parse("2024-01-15T10:30:00.000Z")
    expect(Retry.retryAfterMillis({ "retry-after": "2" }, now)).toBe(2000)
    expect(Retry.retryAfterMillis({ "retry-after": "Mon, 15 Jan 2024 10:30:30 GMT" }, now)).toBe(30_000)
    expect(Retry.retryAfterMillis({ "retry-after": "Mon, 15 Jan 2024 10:00:00 GMT" }, now)).toBe(0)
    expect(Retry.retryAfterMillis({ "retry-after-ms": "120" }, now)).toBe(120)
    expect(Retry.retryAfterMillis({ "retry-after": "soon" }, now)).toBeUndefined()
    expect(Retry.retryAfterMillis({ "retry-after-ms": "-5" }, now)).toBeUndefined()
    expect(Retry.retryAfterMillis({}, now)).toBeUndefined()
    // A hostile server's wait of years is taken as an hour, however it is written.
    expect(Retry.retryAfterMillis({ "retry-after": "2300000000" }, now)).toBe(Retry.maxRetryAfterMillis)
    expect(Retry.retryAfterMillis({ "retry-after": "100000000000000000000" }, now)).toBe(3_600_000)
    expect(Retry.retryAfterMillis({ "retry-after-ms": "1e20" }, now)).toBe(3_600_000)
    expect(Retry.retryAfterMillis({ "retry-after": "Fri, 01 Jan 2100 00:00:00 GMT" }, now)).toBe(3_600_000)
    expect(Retry.retryAfterMillis({ "retry-after": "3600" }, now)).toBe(3_600_000)
  })

  it("policy fills the documented defaults", () => {
    const policy = Retry.policy()
    expect(policy.maxRetries).toBe(4)
    expect(policy.baseDelay).toEqual(Retry.defaults.baseDelay)
    expect(policy.maxDelay).toEqual(Retry.defaults.maxDelay)
  })

  /** The waits of the policy's `Schedule` fed `errors` one after the other, in milliseconds, until it stops. */
  const waits = (policy: Retry.RetryPolicy, idempotency: Retry.Idempotency, errors: ReadonlyArray<ControlPlaneError>) =>
    Schedule.run(Schedule.delays(Retry.schedule(policy, idempotency)), 0, errors).pipe(
      Effect.map((delays) => Chunk.toReadonlyArray(delays).map(Duration.toMillis))
    )

  it.effect("the policy is one Schedule: capped exponential backoff, Retry-After, retryable errors only", () =>
    Effect.gen(function*() {
      const unavailable = fromResponse({ ...facts, status: 503 })
      const slowDown = fromResponse({ ...facts, status: 429, retryAfterMillis: 3000 })
      const policy = Retry.policy({ jitter: false, maxRetries: 6, baseDelay: "1 second", maxDelay: "5 seconds" })
      // Each retry's wait; the last figure (0) is the step at which the schedule stops.
      expect(yield* waits(policy, "idempotent", Array(10).fill(unavailable))).toEqual([
        1000,
        2000,
        4000,
        5000,
        5000,
        5000,
        0
      ])
      expect(yield* waits(policy, "idempotent", [slowDown, unavailable, slowDown])).toEqual([3000, 2000, 3000])
      expect(
        yield* waits(policy, "idempotent", [unavailable, new BadRequest({ ...facts, status: 400, message: "no" })])
      )
        .toEqual([1000, 0])
      expect(yield* waits(policy, "unsafe", [unavailable])).toEqual([0])
      const giveUp = Retry.policy({ maxRetryAfter: "2 seconds", beyondMaxRetryAfter: "give-up" })
      expect(yield* waits(giveUp, "idempotent", [slowDown])).toEqual([0])
    }))
})
