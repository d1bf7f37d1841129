import { HttpClient, HttpClientResponse } from "@effect/platform"
import { Effect, Either, Fiber, Option, Redacted, TestClock, TestContext } from "effect"
import { describe, expect, it } from "vitest"
import * as Transport from "../src/Transport.js"

interface Seen {
  readonly url: string
  readonly authorization: string | undefined
  readonly requestId: string | undefined
}

/** A transport over an in-memory client answering `answers` in turn. */
const transportWith = (
  answers: Array<{ status: number; body?: string; headers?: Record<string, string> }>,
  retry: Parameters<typeof Transport.make>[0]["retry"] = {}
) => {
  const seen: Array<Seen> = []
  const client = HttpClient.make((request, url) =>
    Effect.sync(() => {
      seen.push({
        url: url.toString(),
        authorization: request.headers["authorization"],
        requestId: request.headers["x-request-id"]
      })
      const answer = answers.shift() ?? { status: 200, body: "{}" }
      return HttpClientResponse.fromWeb(
        request,
        new Response(answer.body ?? "", { status: answer.status, headers: answer.headers ?? {} })
      )
    })
  )
  const transport = Effect.runSync(
    Transport.make({
      url: "https://acme.cubecloud.dev/base/",
      apiKey: Redacted.make("sk-secret"),
      retry: { baseDelay: 1, jitter: false, ...retry }
    }).pipe(Effect.provideService(HttpClient.HttpClient, client))
  )
  return { transport, seen }
}

describe("Transport.send (raw pass-through)", () => {
  it("hands back the 2xx response unread, with the base URL, the auth header and the caller's headers", async () => {
    const { seen, transport } = transportWith([{ status: 200, body: "id,name\r\n1,a\r\n" }])
    const response = await Effect.runPromise(
      transport.send({ method: "GET", path: "/api/v1/x?a=1", accept: "text/csv", headers: { "x-request-id": "r1" } })
    )
    expect(await Effect.runPromise(response.text)).toBe("id,name\r\n1,a\r\n")
    expect(seen).toEqual([{
      url: "https://acme.cubecloud.dev/base/api/v1/x?a=1",
      authorization: `Bearer sk-secret`,
      requestId: "r1"
    }])
  })

  it("maps other statuses with core's errors and the server's {error} text", async () => {
    const { transport } = transportWith([{ status: 404, body: "{\"error\":\"no such deployment\"}" }])
    const failed = await Effect.runPromise(Effect.either(transport.send({ method: "GET", path: "/x", accept: "*/*" })))
    expect(Either.isLeft(failed) && failed.left._tag).toBe("NotFound")
    expect(Either.isLeft(failed) && "serverMessage" in failed.left && failed.left.serverMessage).toBe(
      "no such deployment"
    )
  })

  it("retries a GET per the policy; a Retry-After beyond the cap is given up on at once with `give-up`", async () => {
    const short = transportWith([{ status: 503 }, { status: 200, body: "ok" }])
    const ok = await Effect.runPromise(short.transport.send({ method: "GET", path: "/x", accept: "*/*" }))
    expect(ok.status).toBe(200)
    expect(short.seen).toHaveLength(2)

    const long = transportWith([{ status: 429, headers: { "retry-after": "120" } }], {
      maxRetryAfter: 1000,
      beyondMaxRetryAfter: "give-up"
    })
    const limited = await Effect.runPromise(
      Effect.either(long.transport.send({ method: "GET", path: "/x", accept: "*/*" }))
    )
    expect(Either.isLeft(limited) && limited.left._tag).toBe("RateLimited")
    expect(Either.isLeft(limited) && "retryAfterMillis" in limited.left && limited.left.retryAfterMillis).toBe(120_000)
    expect(long.seen).toHaveLength(1)
  })

  it("never retries a POST that reached the server", async () => {
    const { seen, transport } = transportWith([{ status: 503 }, { status: 200 }])
    const failed = await Effect.runPromise(
      Effect.either(transport.send({ method: "POST", path: "/t", accept: "application/json", body: "{}" }))
    )
    expect(Either.isLeft(failed) && failed.left._tag).toBe("ServerError")
    expect(seen).toHaveLength(1)
  })
})

describe("Transport.makeRaw (a caller's own HTTP exchange)", () => {
  const rawWith = (answers: Array<{ status: number; body?: string; headers?: Record<string, string> } | "refused">) => {
    const seen: Array<Transport.ExchangeRequest> = []
    const exchange: Transport.Exchange<string> = async (request) => {
      seen.push(request)
      const answer = answers.shift() ?? { status: 200, body: "" }
      if (answer === "refused") throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })
      return {
        status: answer.status,
        headers: answer.headers ?? {},
        body: answer.body ?? "",
        text: async () => answer.body ?? "",
        discard: () => undefined
      }
    }
    const transport = Transport.makeRaw({
      url: "https://acme.cubecloud.dev/",
      apiKey: Redacted.make("sk-secret"),
      authScheme: "api-key",
      retry: { baseDelay: 1, jitter: false, maxRetries: 2 }
    }, exchange)
    return { seen, transport }
  }

  it("sends to the base URL with the auth header, and hands back the body unread", async () => {
    const { seen, transport } = rawWith([{ status: 200, body: "the body" }])
    const response = await Effect.runPromise(
      transport.send({ method: "POST", path: "/api/v1/t", accept: "application/json", body: "{\"a\":1}" })
    )
    expect(response.body).toBe("the body")
    expect(seen).toEqual([{
      method: "POST",
      url: "https://acme.cubecloud.dev/api/v1/t",
      origin: "https://acme.cubecloud.dev",
      path: "/api/v1/t",
      headers: {
        accept: "application/json",
        authorization: "Api-Key sk-secret",
        "user-agent": "cubeplane-core",
        "accept-encoding": "identity",
        "content-type": "application/json"
      },
      body: "{\"a\":1}"
    }])
  })

  it("refuses a 2xx that comes compressed although identity was asked for, without retrying it", async () => {
    let discarded = 0
    const seen: Array<Transport.ExchangeRequest> = []
    const transport = Transport.makeRaw({
      url: "https://acme.cubecloud.dev",
      apiKey: Redacted.make("sk-secret"),
      retry: { baseDelay: 1, jitter: false, maxRetries: 2 }
    }, async (request) => {
      seen.push(request)
      return {
        status: 200,
        headers: { "content-encoding": " GZip " },
        body: "\u001f\u008b…",
        text: async () => "",
        discard: () => void discarded++
      }
    })
    const failed = await Effect.runPromise(
      Effect.either(transport.send({ method: "GET", path: "/api/v1/audit-logs/export", accept: "text/csv" }))
    )
    expect(Either.isLeft(failed) && failed.left._tag).toBe("UnexpectedResponse")
    expect(Either.isLeft(failed) && failed.left.message).toBe(
      "GET /api/v1/audit-logs/export: a compressed body (`Content-Encoding: gzip` although `Accept-Encoding: identity` was asked for), which a pass-through cannot read"
    )
    expect(seen).toHaveLength(1)
    expect(discarded).toBe(1)
    // `identity` said outright is the plain body.
    const plain = Transport.makeRaw(
      { url: "https://acme.cubecloud.dev", apiKey: Redacted.make("sk-secret") },
      async () => ({
        status: 200,
        headers: { "content-encoding": "identity" },
        body: "id,timestamp\n",
        text: async () => "",
        discard: () => undefined
      })
    )
    const response = await Effect.runPromise(plain.send({ method: "GET", path: "/x", accept: "text/csv" }))
    expect(response.body).toBe("id,timestamp\n")
  })

  it("retries a GET after a refused connection and a 503, then maps a 401 with the server's text", async () => {
    const { seen, transport } = rawWith(["refused", { status: 503 }, { status: 401, body: "{\"error\":\"bad key\"}" }])
    const failed = await Effect.runPromise(Effect.either(transport.send({ method: "GET", path: "/x", accept: "*/*" })))
    expect(seen).toHaveLength(3)
    expect(Either.isLeft(failed) && failed.left._tag).toBe("Unauthorized")
    expect(Either.isLeft(failed) && "serverMessage" in failed.left && failed.left.serverMessage).toBe("bad key")
  })

  it("a base URL that is not http(s) fails at once, nothing sent", async () => {
    const seen: Array<Transport.ExchangeRequest> = []
    const transport = Transport.makeRaw(
      { url: "acme.cubecloud.dev", apiKey: Redacted.make("sk-secret") },
      (request) => {
        seen.push(request)
        return Promise.reject(new Error("not called"))
      }
    )
    const failed = await Effect.runPromise(Effect.either(transport.send({ method: "GET", path: "/x", accept: "*/*" })))
    expect(seen).toHaveLength(0)
    expect(Either.isLeft(failed) && failed.left._tag).toBe("TransportError")
    expect(Either.isLeft(failed) && failed.left.message).toContain("check CUBE_API_URL")
  })

  it("with a deadline, gives up when the retries do not answer in time (TestClock)", async () => {
    const transport = Transport.makeRaw({
      url: "https://acme.cubecloud.dev",
      apiKey: Redacted.make("sk-secret"),
      deadline: "5 seconds",
      retry: { baseDelay: "2 seconds", jitter: false, maxRetries: 10 }
    }, () => Promise.reject(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })))
    const failed = await Effect.runPromise(
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(Effect.either(transport.send({ method: "GET", path: "/x", accept: "*/*" })))
        // Time moves a second at a time until the send is over (the deadline is 5 s, the retries 10 × 2 s).
        let polled = yield* Fiber.poll(fiber)
        let seconds = 0
        while (Option.isNone(polled)) {
          yield* TestClock.adjust("1 second")
          seconds++
          polled = yield* Fiber.poll(fiber)
        }
        expect(seconds).toBeLessThan(10)
        return yield* Fiber.join(fiber)
      }).pipe(Effect.provide(TestContext.TestContext))
    )
    expect(Either.isLeft(failed) && failed.left._tag).toBe("TransportError")
    expect(Either.isLeft(failed) && failed.left.message).toContain("gave up: no answer within 5s")
  })

  it("a POST is retried only when the connection was never made", async () => {
    const { seen, transport } = rawWith(["refused", { status: 502 }, { status: 200 }])
    const failed = await Effect.runPromise(
      Effect.either(transport.send({ method: "POST", path: "/t", accept: "*/*", body: "{}" }))
    )
    expect(seen).toHaveLength(2)
    expect(Either.isLeft(failed) && failed.left._tag).toBe("ServerError")
  })
})
