/**
 * A cheap checksum of audit events, computed the same way from typed events
 * and from their NDJSON lines, so the export benchmark can check that every
 * path produced the same events without holding them: every event's id,
 * time, name, email, deployment and IP, and the `attributes` of every 20th
 * event (its place in the file: `index`). `JSON.stringify` of every event's
 * attributes was about a fifth of the consumer's time, which the benchmark
 * would have counted as the stream's.
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
  attributes: () => string,
  index: number
) =>
  (textSum(id) + (millis % 1_000_003) + textSum(name) + textSum(email) + textSum(deploymentId) + textSum(ip) +
    (index % attributesEvery === 0 ? textSum(attributes()) : 0)) % 2_147_483_647

/** Whose `attributes` are summed: every 20th event, as the NDJSON check compares every 20th line. */
const attributesEvery = 20

/** From a typed event, the `index`th of the export (0-based). */
export const eventChecksum = (event: AuditLogEvent, index: number): number =>
  combine(
    event.id,
    event.timestamp.getTime(),
    event.eventName,
    event.userEmail,
    event.deploymentId,
    event.ipAddress,
    () => JSON.stringify(event.attributes),
    index
  )

/** From the `index`th line of `--format ndjson` output (the JSON form; 0-based). */
export const jsonChecksum = (json: AuditLogEventJson, index: number): number =>
  combine(
    String(json.id),
    Date.parse(json.timestamp),
    json.event_name,
    json.user_email,
    json.deployment_id === null ? null : String(json.deployment_id),
    json.ip_address,
    () => JSON.stringify(json.attributes),
    index
  )
