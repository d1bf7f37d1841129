import { HttpClient, HttpClientResponse } from "@effect/platform"
import { Effect, Either, Redacted } from "effect"
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
