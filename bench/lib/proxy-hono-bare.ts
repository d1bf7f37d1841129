/**
 * A peer for the proxy benchmark: Hono on @hono/node-server forwarding with
 * cubeplane-proxy's own upstream client (`Upstream.make`: core's transport
 * over an undici `Pool`), and nothing else — no key, no policy, no log, no metrics.
 * The gap between this and cubeplane-proxy is what the proxy's checks cost;
 * the gap between this and the passthrough nets what Hono and the fetch-style
 * Request/Response cost against what undici saves over `node:http`'s client.
 * `UPSTREAM` is the target; prints
 * `{"port": N}` once listening.
 */
import * as Upstream from "@cubeplane/proxy/Upstream"
import { getRequestListener } from "@hono/node-server"
import { Effect, Redacted } from "effect"
import { Hono } from "hono"
import * as http from "node:http"

const upstream = Upstream.make({
  url: process.env["UPSTREAM"] ?? "http://127.0.0.1:9000",
  apiKey: Redacted.make("sk-bench-upstream-key"),
  timeoutMs: 10_000,
  retries: 0
})

const isArrayBufferBacked = (bytes: Uint8Array): bytes is Uint8Array<ArrayBuffer> => bytes.buffer instanceof ArrayBuffer

const app = new Hono()
app.get("/api/v1/deployments", () =>
  Effect.runPromise(
    upstream.send({
      operation: "listDeployments",
      method: "GET",
      path: "/api/v1/deployments",
      accept: "application/json",
      requestId: "bench"
    }).pipe(
      Effect.flatMap((response) =>
        Effect.map(Upstream.readBody(response, 8 * 1024 * 1024), (body) =>
          new Response(isArrayBufferBacked(body) ? body : new Uint8Array(body), {
            status: response.status,
            headers: { "content-type": "application/json" }
          }))
      ),
      Effect.catchAll((error) =>
        Effect.succeed(
          new Response(JSON.stringify({ error: error.message }), {
            status: 502,
            headers: { "content-type": "application/json" }
          })
        )
      )
    )
  ))

const server = http.createServer(getRequestListener(app.fetch))
server.keepAliveTimeout = 60_000
server.listen(Number(process.env["PORT"] ?? 0), "127.0.0.1", () => {
  const address = server.address()
  process.stdout.write(`${JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 })}\n`)
})
