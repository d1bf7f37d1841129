/**
 * Forwarding a meta-sync token request and the audit-log export.
 *
 * - Token: the body the policy checked (core's decoded `MetaSyncTokenInput`,
 *   with the grant's `max_expires_in` when the caller left `expires_in` out)
 *   is encoded by core's schema and sent: none of the caller's own bytes go
 *   upstream. The answer is redacted, never stored (`Cache-Control:
 *   no-store`), and an audit line records the facts but not the token.
 * - Export: the upstream CSV streamed through with backpressure, checked by
 *   core's CSV decoder or converted to NDJSON (`Export.ts`), then redacted
 *   chunk by chunk (`Redact.ts`). A cut-off or a bad row aborts the caller's
 *   transfer so it cannot pass for a complete file.
 *
 * @since 0.2.0
 */
import * as AuditLog from "@cubeplane/core/AuditLog"
import * as Csv from "@cubeplane/core/Csv"
import * as Domain from "@cubeplane/core/Domain"
import { UnexpectedResponse } from "@cubeplane/core/Errors"
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response"
import { Effect, Either, ParseResult, Schema } from "effect"
import * as Answer from "./Answer.js"
import { bodyBytes, headerValue, passedType, reply } from "./Call.js"
import * as Export from "./Export.js"
import * as Log from "./Log.js"
import { ProxyMetrics } from "./Metrics.js"
import type { Authorized } from "./Pipeline.js"
import * as Redact from "./Redact.js"
import * as Upstream from "./Upstream.js"
import type { ExportRequest, TokenRequest } from "./Validate.js"

/** Largest token answer read from upstream. */
const maxTokenBytes = 1024 * 1024

const encodeTokenInput = Schema.encodeEither(Domain.MetaSyncTokenInput)
const decodeToken = Schema.decodeUnknownEither(Schema.parseJson(Domain.MetaSyncTokenResponse))

type Services = Upstream.ControlPlaneUpstream | ProxyMetrics | Log.AccessLog

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const expiresAtOf = (bytes: Uint8Array): unknown => {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(bytes).toString("utf8"))
    const data = isRecord(parsed) && isRecord(parsed["data"]) ? parsed["data"] : parsed
    return isRecord(data) ? data["expires_at"] ?? null : null
  } catch {
    return null
  }
}

/** The upstream's bytes were not an audit-log CSV (malformed, another file, a row that is not an event). */
const notTheExport = (error: Error): boolean =>
  error instanceof Csv.CsvError || error instanceof AuditLog.AuditLogRowError

/** The forwarders' services, resolved once (the app's runtime is built once). */
const services = Effect.all([Upstream.ControlPlaneUpstream, ProxyMetrics, Log.AccessLog])

/** The token forwarder. */
export const tokenForwarder: Effect.Effect<
  (authorized: Authorized<TokenRequest>) => Effect.Effect<Response>,
  never,
  Services
> = Effect.map(services, ([upstream, metrics, log]) => (authorized) => {
  const { call, defaultExpiresIn, key, request } = authorized
  const checked: Domain.MetaSyncTokenInput = defaultExpiresIn === undefined
    ? request.body
    : { ...request.body, expiresIn: defaultExpiresIn }
  const wire = encodeTokenInput(checked)
  if (Either.isLeft(wire)) {
    return Effect.succeed(Answer.badRequest(call, ParseResult.TreeFormatter.formatErrorSync(wire.left)))
  }
  return upstream.send({
    operation: "createMetaSyncToken",
    method: "POST",
    path: request.upstreamPath,
    accept: "application/json",
    requestId: call.requestId,
    body: JSON.stringify(wire.right)
  }).pipe(
    Effect.flatMap((response) => {
      call.upstreamStatus = response.status
      return Effect.flatMap(Upstream.readBody(response, maxTokenBytes), (body) => {
        // A 2xx that is not a token (an HTML page, text, a JSON error) is a 502, as for the typed client.
        if (Either.isLeft(decodeToken(Buffer.from(body).toString("utf8")))) {
          return Effect.fail(
            new UnexpectedResponse({
              message: "the answer to the token request is not a meta-sync token (core's MetaSyncTokenResponse)",
              // The body is not quoted: a near-token may hold a token.
              detail: "the body does not decode as MetaSyncTokenResponse",
              method: "POST",
              path: request.upstreamPath,
              status: response.status
            })
          )
        }
        const bytes = upstream.redactor.bytes(body)
        metrics.tokensMinted.inc([key.name])
        log.event({
          time: Log.timestamp(),
          level: "info",
          msg: "meta-sync token minted",
          audit: "token_minted",
          request_id: call.requestId,
          key: key.name,
          deployment_id: request.access.deploymentId,
          environment_id: request.access.environmentId,
          security_context: checked.securityContext,
          expires_in: checked.expiresIn ?? null,
          expires_at: expiresAtOf(bytes)
        })
        return Effect.succeed(reply(call, response.status, bodyBytes(bytes), {
          "Content-Type": passedType(response.headers["content-type"], "json")
        }))
      })
    }),
    Effect.catchAll((error) => Effect.succeed(Answer.fromError(call, error, upstream.redactor, metrics)))
  )
})

/** The audit-log export forwarder. */
export const auditLogForwarder: Effect.Effect<
  (authorized: Authorized<ExportRequest>) => Effect.Effect<Response>,
  never,
  Services
> = Effect.map(services, ([upstream, metrics, log]) => (authorized) => {
  const { call, request } = authorized
  return upstream.sendExport({
    operation: "exportAuditLog",
    method: "GET",
    path: request.upstreamPath,
    accept: "text/csv",
    requestId: call.requestId
  }).pipe(
    Effect.flatMap((response) => {
      call.upstreamStatus = response.status
      const warn = (error: Error, msg: string): string => {
        metrics.upstreamErrors.inc(["exportAuditLog", "stream"])
        const message = upstream.redactor.text(error.message)
        log.event({ time: Log.timestamp(), level: "warn", msg, request_id: call.requestId, error: message })
        return message
      }
      const onCutOff = (error: Error): "socket destroyed" | "error the stream" => {
        warn(error, "export aborted: the caller's download is cut so it cannot pass for a complete file")
        // Under Node, cut the caller's connection ourselves: the transfer ends without its
        // final chunk, which every HTTP client reports as an error.
        const incoming = call.c.env?.incoming
        if (incoming === undefined) return "error the stream"
        incoming.socket.destroy()
        return "socket destroyed"
      }
      const converter = Redact.after(
        request.format === "ndjson" ? Export.ndjsonConverter() : Export.csvPassthrough(),
        upstream.redactor
      )
      const headers: Record<string, string> = {}
      if (request.format === "ndjson") headers["Content-Type"] = "application/x-ndjson; charset=utf-8"
      else {
        headers["Content-Type"] = passedType(response.headers["content-type"], "csv")
        const disposition = headerValue(response.headers["content-disposition"])
        if (disposition !== undefined) headers["Content-Disposition"] = disposition
      }
      // Under Node, straight to the caller's socket. `app.request` (no Node response) gets a web
      // stream, and so does a HEAD request: Hono answers it without the body, cancelling the stream.
      const outgoing = call.c.env?.outgoing
      if (outgoing === undefined || call.c.req.method === "HEAD") {
        return Effect.succeed(reply(call, 200, Export.streamBody(response.body, converter, onCutOff), headers))
      }
      // The program ends when the caller's status is decided (the head, a 502, or the caller gone), so the
      // access log and the metrics record the status the caller got.
      return Effect.async<Response>((resume) => {
        Export.pipeToNode(
          response.body,
          converter,
          outgoing,
          200,
          { ...call.headers, ...headers },
          (error, outcome) => {
            if (outcome === "cut") {
              onCutOff(error)
              return ""
            }
            const said = warn(error, "export failed before its first bytes: answered 502")
            return notTheExport(error)
              ? `the upstream Control Plane's export is not the expected audit-log CSV: ${said}`
              : `the upstream Control Plane failed: ${said}`
          },
          (status) => {
            call.sentStatus = status
            if (status === 502) call.error = "the upstream export failed before its first bytes"
            if (status === 499) call.error = "the caller closed the connection before the export's first bytes"
            resume(Effect.succeed(RESPONSE_ALREADY_SENT))
          }
        )
      })
    }),
    Effect.catchAll((error) => Effect.succeed(Answer.fromError(call, error, upstream.redactor, metrics)))
  )
})
