/**
 * The export's raw HTTP client (`NodeExchange`) under core's `Transport.makeRaw`:
 * the headers it is given go out, the body comes back as the Node stream, and
 * an attempt with no answer fails with a code core reads as a timeout.
 */
import * as Transport from "@cubeplane/core/Transport"
import { Duration, Effect, Either, Redacted } from "effect"
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http"
import { afterEach, describe, expect, it } from "vitest"
import * as NodeExchange from "../src/NodeExchange.js"

const servers: Array<{ close: () => void }> = []
afterEach(() => {
  for (const server of servers.splice(0)) server.close()
})

const serve = async (answer: (headers: IncomingHttpHeaders, response: ServerResponse) => void) => {
  const held: Array<ServerResponse> = []
  const server = createServer((request, response) => {
    request.resume()
    held.push(response)
    answer(request.headers, response)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  servers.push({
    close: () => {
      for (const response of held) response.destroy()
      server.close()
    }
  })
  const address = server.address()
  return `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
}

const readAll = (body: NodeJS.ReadableStream): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    body.on("data", (chunk: Buffer) => chunks.push(chunk))
    body.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    body.once("error", reject)
  })

describe("NodeExchange under Transport.makeRaw", () => {
  it("sends core's headers and hands back the body as a Node stream", async () => {
    const seen: Array<IncomingHttpHeaders> = []
    const url = await serve((headers, response) => {
      seen.push(headers)
      response.writeHead(200, { "content-type": "text/csv", "x-request-id": "r-1" })
      response.write("id\r\n")
      response.end("1\r\n")
    })
    const transport = Transport.makeRaw(
      { url, apiKey: Redacted.make("sk-secret"), userAgent: "test-agent" },
      NodeExchange.make(5_000)
    )
    const response = await Effect.runPromise(transport.send({ method: "GET", path: "/x?a=1", accept: "text/csv" }))
    expect(response.status).toBe(200)
    expect(response.headers["x-request-id"]).toBe("r-1")
    expect(await readAll(response.body)).toBe("id\r\n1\r\n")
    expect(seen[0]?.authorization).toBe("Bearer sk-secret")
    expect(seen[0]?.accept).toBe("text/csv")
    expect(seen[0]?.["user-agent"]).toBe("test-agent")
  })

  it("no answer within the attempt's time: a TransportError Timeout (no retries asked for)", async () => {
    const url = await serve(() => undefined)
    const transport = Transport.makeRaw(
      { url, apiKey: Redacted.make("sk-secret"), timeout: Duration.millis(100), retry: { maxRetries: 0 } },
      NodeExchange.make(100)
    )
    const failed = await Effect.runPromise(Effect.either(transport.send({ method: "GET", path: "/x", accept: "*/*" })))
    expect(Either.isLeft(failed) && failed.left._tag).toBe("TransportError")
    expect(Either.isLeft(failed) && failed.left._tag === "TransportError" && failed.left.reason).toBe("Timeout")
  })

  it("an error status is core's typed error with the server's words", async () => {
    const url = await serve((_, response) => {
      response.writeHead(403, { "content-type": "application/json" }).end("{\"error\":\"not yours\"}")
    })
    const transport = Transport.makeRaw({ url, apiKey: Redacted.make("sk-secret") }, NodeExchange.make(5_000))
    const failed = await Effect.runPromise(Effect.either(transport.send({ method: "GET", path: "/x", accept: "*/*" })))
    expect(Either.isLeft(failed) && failed.left._tag).toBe("Forbidden")
    expect(Either.isLeft(failed) && failed.left.message).toContain("not yours")
  })
})
