/**
 * A TLS failure as a user meets it on a real port: a certificate Node does
 * not trust (a private CA, a TLS-inspecting proxy) or a URL that says
 * https to a plain-HTTP server. The next attempt would meet the same
 * certificate, so it is one attempt, not four retries, and the error says
 * what to do — over fetch (the typed client's transport) and `NodeHttp`.
 */
import { FetchHttpClient } from "@effect/platform"
import { Effect, Redacted } from "effect"
import * as http from "node:http"
import * as https from "node:https"
import type * as net from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { type ControlPlaneError, TransportError } from "../src/Errors.js"
import * as NodeHttp from "../src/NodeHttp.js"
import * as Retry from "../src/Retry.js"
import * as Transport from "../src/Transport.js"
import { closeServers, listen, testCertificate } from "./support/nodeHttp.js"

afterEach(closeServers)

/** A server that counts the TCP connections made to it (one per attempt). */
const counted = async <S extends net.Server>(server: S) => {
  let connections = 0
  server.on("connection", () => {
    connections++
  })
  const url = await listen(server)
  return { url, connections: () => connections }
}

const retry = { baseDelay: 1, jitter: false, maxRetries: 3 }

/** Both transports a user can run: core's fetch-based one and `NodeHttp`'s, as a GET of the export. */
const attempts: Record<string, (url: string) => Effect.Effect<ControlPlaneError, void>> = {
  fetch: (url) =>
    Effect.flatMap(
      Transport.make({ url, apiKey: Redacted.make("sk-tls-test"), retry }),
      (transport) => transport.send({ method: "GET", path: "/api/v1/audit-logs/export", accept: "text/csv" })
    ).pipe(Effect.provide(FetchHttpClient.layer), Effect.asVoid, Effect.flip),
  "NodeHttp": (url) =>
    Transport.makeRaw({ url, apiKey: Redacted.make("sk-tls-test"), retry }, NodeHttp.make({ timeout: 5_000 }))
      .send({ method: "GET", path: "/api/v1/audit-logs/export", accept: "text/csv" })
      .pipe(Effect.asVoid, Effect.flip)
}

describe.each(Object.entries(attempts))("a TLS failure over %s", (_name, attempt) => {
  it("an untrusted certificate: one attempt, its code, and NODE_EXTRA_CA_CERTS named", async () => {
    const server = await counted(https.createServer(testCertificate, (_request, response) => response.end("id\r\n")))
    const error = await Effect.runPromise(attempt(server.url.replace("http:", "https:")))
    expect(error).toMatchObject({ _tag: "TransportError", reason: "Connection", code: "DEPTH_ZERO_SELF_SIGNED_CERT" })
    expect(error.message).toContain("TLS certificate is not trusted")
    expect(error.message).toContain("NODE_EXTRA_CA_CERTS")
    expect(error.message).not.toContain("sk-tls-test")
    expect(server.connections()).toBe(1)
  })

  it("https to a plain-HTTP server: one attempt, and the error says to use http://", async () => {
    const server = await counted(http.createServer((_request, response) => response.end("id\r\n")))
    const error = await Effect.runPromise(attempt(server.url.replace("http:", "https:")))
    expect(error._tag).toBe("TransportError")
    // fetch (undici) names OpenSSL's reason; Node's `https` client says EPROTO for the same failure.
    expect(["ERR_SSL_WRONG_VERSION_NUMBER", "EPROTO"]).toContain(error._tag === "TransportError" && error.code)
    expect(error.message).toContain("use an http:// URL")
    expect(server.connections()).toBe(1)
  })
})

describe("Retry.isRetryable and TLS codes", () => {
  it("a TLS code is final for a GET and for the token POST; a refused connection is not", () => {
    const failure = (code: string) =>
      new TransportError({ message: "m", method: "GET", path: "/p", reason: "Connection", notSent: true, code })
    for (const code of Retry.tlsCodes) {
      expect(Retry.isRetryable(failure(code), "idempotent")).toBe(false)
      expect(Retry.isRetryable(failure(code), "unsafe")).toBe(false)
    }
    expect(Retry.isRetryable(failure("ECONNREFUSED"), "idempotent")).toBe(true)
    expect(Retry.isRetryable(failure("ECONNREFUSED"), "unsafe")).toBe(true)
  })
})
