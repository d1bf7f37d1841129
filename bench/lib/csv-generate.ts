/**
 * Writes a deterministic audit-log CSV (the mock's columns) to a file, streaming:
 * rows are produced in batches and written with back-pressure, so generating a
 * million rows never holds the file in memory.
 *
 * The data is shaped like the real thing and hard on parsers: `attributes` is a
 * JSON object as text (commas and doubled quotes in every row, a pretty-printed
 * one with newlines inside the quotes in every eighth row), names and
 * deployments are non-ASCII ("Zoë", "Müller", "渡辺"), some fields are empty, and
 * some deployment names contain commas.
 */
import { encodeRow } from "@cubeplane/core/Csv"
import * as Domain from "@cubeplane/core/Domain"
import { once } from "node:events"
import { createWriteStream } from "node:fs"

/** The mock's columns, from core's one definition. */
export const auditLogColumns = Domain.auditLogColumns

const eventNames = [
  "Created user",
  "Logged in",
  "Logged in via SAML",
  "Logged out",
  "Updated deployment configuration",
  "Enabled SQL API for deployment",
  "Assigned role to user",
  "Created Git branch",
  "Committed and merged changes to data model",
  "Received a Git hook",
  "Triggered new build",
  "Updated budget",
  "Updated account SAML configuration",
  "Generated webhook token for Git repository"
]
const people = [
  { name: "Zoë Martin", email: "zoe.martin@example.com" },
  { name: "Jürgen Müller", email: "juergen.mueller@example.de" },
  { name: "渡辺 健", email: "k.watanabe@example.jp" },
  { name: "Ana O'Neil", email: "ana.oneil@example.com" },
  { name: "Łukasz Żółć", email: "lukasz@example.pl" },
  { name: "Ivan \"Vanya\" Petrov", email: "ivan@example.com" }
]
const deployments = [
  { id: "101", name: "Analytics" },
  { id: "202", name: "Müller GmbH, production" },
  { id: "303", name: "渡辺 dashboards" },
  { id: "404", name: "Zoë's sandbox" }
]

/** A small, fast, deterministic PRNG (mulberry32), so every run writes the same file. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const hex = (next: () => number, length: number): string => {
  let out = ""
  for (let k = 0; k < length; k++) out += "0123456789abcdef"[Math.floor(next() * 16)]
  return out
}

/** The fields of row `index` (0-based), from the PRNG's next values. */
const auditRow = (next: () => number, index: number): Array<string> => {
  const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(next() * items.length)]!
  const event = pick(eventNames)
  const person = next() < 0.1 ? undefined : pick(people)
  const deployment = next() < 0.2 ? undefined : pick(deployments)
  const ip = next() < 0.15
    ? `2001:db8::${hex(next, 4)}`
    : `${10 + Math.floor(next() * 200)}.${Math.floor(next() * 256)}.${Math.floor(next() * 256)}.${
      Math.floor(next() * 256)
    }`
  const attributes: Record<string, unknown> = {
    actor: person?.name ?? "system",
    request_id: hex(next, 12),
    changes: { budget: Math.floor(next() * 10_000), note: "limits, \"soft\" and hard" },
    api_key: "[HIDDEN]"
  }
  if (deployment !== undefined) attributes["deployment"] = { id: Number(deployment.id), name: deployment.name }
  return [
    `evt_${index.toString(36).padStart(7, "0")}${hex(next, 8)}`,
    new Date(Date.UTC(2024, 0, 1) + index * 1_250).toISOString(),
    event,
    person?.email ?? "",
    deployment?.id ?? "",
    deployment?.name ?? "",
    ip,
    index % 8 === 7 ? JSON.stringify(attributes, null, 2) : JSON.stringify(attributes)
  ]
}

/** Writes `rows` audit-log rows (plus the header) to `file`; resolves with the file's size in bytes. */
export const generateAuditLogCsv = async (file: string, rows: number): Promise<number> => {
  const next = random(20_240_101)
  const out = createWriteStream(file)
  let written = 0
  let batch = encodeRow(auditLogColumns)
  for (let index = 0; index < rows; index++) {
    batch += encodeRow(auditRow(next, index))
    if (batch.length >= 1 << 20 || index === rows - 1) {
      written += Buffer.byteLength(batch)
      if (!out.write(batch)) await once(out, "drain")
      batch = ""
    }
  }
  if (batch.length > 0) {
    written += Buffer.byteLength(batch)
    out.write(batch)
  }
  out.end()
  await once(out, "finish")
  return written
}
