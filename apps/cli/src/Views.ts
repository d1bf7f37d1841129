/**
 * How each kind of API value prints: its wire schema (for `json`, `ndjson`,
 * `yaml`: exactly what the API sent, unknown fields included) and its
 * columns (for `table` and `csv`).
 */
import * as AuditLog from "@cubeplane/core/AuditLog"
import * as Domain from "@cubeplane/core/Domain"
import * as Redacted from "effect/Redacted"
import type { View } from "./Output.js"

const iso = (date: Date) => date.toISOString()

/** A server timestamp: ISO when it parsed, the server's own text when it did not, empty when absent. */
const when = (value: Date | string | undefined) =>
  value === undefined ? "" : typeof value === "string" ? value : iso(value)

const sqlEndpoint = (sql: Domain.SqlCredentials | undefined) =>
  sql?.host !== undefined ? sql.port !== undefined ? `${sql.host}:${sql.port}` : sql.host : ""

export const deployment: View<Domain.Deployment, typeof Domain.Deployment.Encoded> = {
  schema: Domain.Deployment,
  columns: [
    { header: "ID", value: (d) => d.id },
    { header: "NAME", value: (d) => d.name },
    { header: "CREATED", value: (d) => when(d.createdAt) },
    { header: "URL", value: (d) => d.deploymentUrl, optional: true },
    { header: "STEP", value: (d) => d.creationStep, optional: true }
  ]
}

export const environment: View<Domain.Environment, typeof Domain.Environment.Encoded> = {
  schema: Domain.Environment,
  columns: [
    { header: "ID", value: (e) => e.id },
    { header: "NAME", value: (e) => e.name ?? e.branch ?? e.user },
    { header: "TYPE", value: (e) => e.type },
    { header: "REST URL", value: (e) => e.apiCredentials?.rest?.url },
    { header: "SQL", value: (e) => sqlEndpoint(e.apiCredentials?.sql) }
  ]
}

/** The minted token: `tokens meta-sync` prints it, because that is what it is for. */
export const metaSyncToken: View<Domain.MetaSyncToken, typeof Domain.MetaSyncToken.Encoded> = {
  schema: Domain.MetaSyncToken,
  columns: [
    { header: "TOKEN", value: (t) => Redacted.value(t.token) },
    { header: "CREATED", value: (t) => when(t.createdAt) },
    { header: "EXPIRES", value: (t) => when(t.expiresAt) }
  ]
}

/** An audit event; the CSV columns are the export's own (`Domain.auditLogColumns`). */
export const auditLogEvent: View<Domain.AuditLogEvent, Domain.AuditLogEventJson> = {
  schema: Domain.AuditLogEvent,
  toJson: AuditLog.toJson,
  columns: [
    { header: "id", value: (e) => e.id },
    { header: "timestamp", value: (e) => iso(e.timestamp) },
    { header: "event_name", value: (e) => e.eventName },
    { header: "user_email", value: (e) => e.userEmail },
    { header: "deployment_id", value: (e) => e.deploymentId },
    { header: "deployment_name", value: (e) => e.deploymentName },
    { header: "ip_address", value: (e) => e.ipAddress },
    { header: "attributes", value: (e) => JSON.stringify(e.attributes) }
  ]
}
