/**
 * A cheap order-independent checksum of audit events, computed the same way
 * from typed events and from their NDJSON lines, so the export benchmark can
 * check that every path produced the same events without holding them.
 */
import type { AuditLogEvent, AuditLogEventJson } from "@cubeplane/core/Domain"

const textSum = (text: string | null): number => {
  if (text === null) return 7
  let sum = text.length
  for (let k = 0; k < text.length; k += 3) sum = (sum * 31 + text.charCodeAt(k)) % 1_000_003
  return sum
}

const combine = (
  id: string,
  millis: number,
  name: string,
  email: string | null,
  deploymentId: string | null,
  ip: string | null,
  attributes: string
) =>
  (textSum(id) + (millis % 1_000_003) + textSum(name) + textSum(email) + textSum(deploymentId) + textSum(ip) +
    textSum(attributes)) % 2_147_483_647

/** From a typed event. */
export const eventChecksum = (event: AuditLogEvent): number =>
  combine(
    event.id,
    event.timestamp.getTime(),
    event.eventName,
    event.userEmail,
    event.deploymentId,
    event.ipAddress,
    JSON.stringify(event.attributes)
  )

/** From a line of `--format ndjson` output (the JSON form). */
export const jsonChecksum = (json: AuditLogEventJson): number =>
  combine(
    String(json.id),
    Date.parse(json.timestamp),
    json.event_name,
    json.user_email,
    json.deployment_id === null ? null : String(json.deployment_id),
    json.ip_address,
    JSON.stringify(json.attributes)
  )
