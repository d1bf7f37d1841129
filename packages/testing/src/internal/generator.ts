/**
 * Deterministic, random-access audit events: event `i` is a pure function of
 * the seed number and `i`, and timestamps grow with `i`, so an export of
 * ten million events is produced one event at a time, and a date range maps
 * straight to a range of indexes without scanning.
 */
import type { Domain } from "@cubeplane/core"

export interface GeneratedAuditLog {
  /** How many events. */
  readonly count: number
  /** The generator's seed: same seed, same events. */
  readonly seed: number
  /** The first event's time (ms since epoch). */
  readonly startMillis: number
  /** Time between two consecutive events (ms). */
  readonly stepMillis: number
  /** Deployments the events may refer to. */
  readonly deployments: ReadonlyArray<{ readonly id: string; readonly name: string }>
}

export const defaultStartMillis = Date.UTC(2024, 0, 1)
export const defaultStepMillis = 10_000

/** A well-mixed 32-bit hash of (seed, index, salt) — splitmix-style; no state, so any index is reachable directly. */
const mix = (seed: number, index: number, salt: number): number => {
  let h = (seed ^ Math.imul(index, 0x9e3779b1) ^ Math.imul(salt, 0x85ebca77)) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x21f0aaad) >>> 0
  h = Math.imul(h ^ (h >>> 15), 0x735a2d97) >>> 0
  return (h ^ (h >>> 15)) >>> 0
}

const pick = <A>(items: ReadonlyArray<A>, n: number): A => items[n % items.length]!

/** Cube's published event names (cube-facts.md). */
export const eventNames = [
  "Created user",
  "Deleted user",
  "Invited user",
  "Updated user profile",
  "Requested password reset",
  "Changed password",
  "Created user via SCIM",
  "Updated user via SCIM",
  "Deleted user via SCIM",
  "Created group via SCIM",
  "Updated group via SCIM",
  "Deleted group via SCIM",
  "Created role",
  "Deleted role",
  "Updated role",
  "Assigned role to user",
  "Assigned roles to user",
  "Removed role from user",
  "Logged in",
  "Logged out",
  "Redirected to SAML provider for login",
  "Logged in via SAML",
  "Updated account settings",
  "Updated account authentication configuration",
  "Updated account SAML configuration",
  "Uploaded identity provider metadata file",
  "Created deployment",
  "Deleted deployment",
  "Updated deployment configuration",
  "Enabled SQL API for deployment",
  "Generated data model",
  "Created Git branch",
  "Deleted Git branch",
  "Entered dev mode",
  "Exited dev mode",
  "Pulled changes to data model",
  "Committed and merged changes to data model",
  "Merged changes to data model",
  "Reverted changes to data model in branch",
  "Requested connection of GitHub account",
  "Connected deployment to GitHub repository",
  "Generated SSH key for deployment",
  "Connected deployment to Git upstream",
  "Generated Git credentials for Cube Cloud repository",
  "Generated webhook token for Git repository",
  "Received a Git hook",
  "Started uploading files",
  "Finished uploading files",
  "Triggered new build",
  "Created budget",
  "Deleted budget",
  "Updated budget"
] as const

/** Events that concern a deployment (the rest are account-level: no deployment). */
const deploymentEvents = new Set<string>(eventNames.slice(26, 49))

const people = [
  "zoe.martin@example.com",
  "juergen.mueller@example.de",
  "k.watanabe@example.jp",
  "ana.oneil@example.com",
  "lukasz@example.pl",
  "ivan@example.com",
  null
] as const

const branches = ["main", "feature/zoë-metrics", "fix, \"quoted\" names", "渡辺/experiment"] as const

const attributesFor = (eventName: string, r: number, i: number): Record<string, unknown> => {
  switch (r % 8) {
    case 0:
      return { method: eventName.includes("SAML") ? "saml" : "password", user_agent: "Mozilla/5.0 (X11; Linux x86_64)" }
    case 1:
      return { branch: pick(branches, r >>> 3), commit: (r >>> 4).toString(16).padStart(8, "0") }
    case 2:
      return { token: "[HIDDEN]", expires_in: 3600 }
    case 3:
      return { changes: { name: { from: "Old, \"legacy\" name", to: "Données, Europe" } } }
    case 4:
      return { note: "line one\nline two, with a comma", size: (r >>> 5) % 10_000 }
    case 5:
      return { role: pick(["Admin", "Developer", "Viewer"], r >>> 3), password: "[HIDDEN]" }
    case 6:
      return {}
    default:
      return { build: i, status: pick(["queued", "running", "succeeded"], r >>> 3) }
  }
}

/** `203.0.113.0` to `203.0.113.254` (TEST-NET-3), made once rather than per event. */
const ipAddresses = Array.from({ length: 255 }, (_, n) => `203.0.113.${n}`)

/** The `index`-th event (0-based) of a generated log. */
export const eventAt = (log: GeneratedAuditLog, index: number): Domain.AuditLogEvent => {
  const r = mix(log.seed, index, 1)
  const eventName = pick(eventNames, r)
  const r2 = mix(log.seed, index, 2)
  const deployment = deploymentEvents.has(eventName) && log.deployments.length > 0
    ? pick(log.deployments, r2)
    : null
  return {
    id: `evt_g${index + 1}`,
    timestamp: new Date(log.startMillis + index * log.stepMillis),
    eventName,
    userEmail: pick(people, r2 >>> 8),
    deploymentId: deployment?.id ?? null,
    deploymentName: deployment?.name ?? null,
    ipAddress: ipAddresses[(r2 >>> 16) % 255]!,
    attributes: attributesFor(eventName, mix(log.seed, index, 3), index)
  }
}

/** The first index whose timestamp is ≥ `millis`. */
export const firstIndexAtOrAfter = (log: GeneratedAuditLog, millis: number): number => {
  if (millis <= log.startMillis) return 0
  return Math.min(log.count, Math.ceil((millis - log.startMillis) / log.stepMillis))
}
