/**
 * Runs every benchmark in this folder, one after another (they share two cores),
 * prints each section and writes them all to BENCHMARKS.md at the repo root.
 *
 * Each benchmark module exports `run(): Promise<string>` returning a Markdown
 * section (a `## Title`, what was measured, a table with ratios against its peers).
 * `pnpm bench csv proxy` runs only the named ones and replaces just their
 * sections in BENCHMARKS.md (the others stay as the last run wrote them).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { arch, cpus, totalmem } from "node:os"
import { fileURLToPath } from "node:url"

const benchmarks: Record<string, () => Promise<{ run: () => Promise<string> }>> = {
  csv: () => import("./csv.js"),
  pagination: () => import("./pagination.js"),
  "mock-export": () => import("./mock-export.js"),
  export: () => import("./export.js"),
  "cli-startup": () => import("./cli-startup.js"),
  proxy: () => import("./proxy.js"),
  "proxy-store": () => import("./proxy-store.js")
}

const wanted = process.argv.slice(2).filter((arg) => !arg.startsWith("-"))
const unknown = wanted.filter((name) => !(name in benchmarks))
if (unknown.length > 0) {
  console.error(`Unknown benchmark(s): ${unknown.join(", ")}. Known: ${Object.keys(benchmarks).join(", ")}`)
  process.exit(2)
}
const selected = wanted.length > 0 ? wanted : Object.keys(benchmarks)

const sections: Array<string> = []
for (const name of selected) {
  console.error(`\n▶ bench ${name}`)
  const load = benchmarks[name]!
  const mod = await load()
  const section = await mod.run()
  console.log(section)
  sections.push(section)
}

const target = fileURLToPath(new URL("../BENCHMARKS.md", import.meta.url))
if (wanted.length > 0 && existsSync(target)) {
  // A partial run replaces its own sections (by their `## ` title) and keeps the others as they were.
  const titleOf = (section: string) => /^## .*$/m.exec(section)?.[0]
  const current = readFileSync(target, "utf8")
  const parts = current.split(/^(?=## )/m)
  let updated = parts.map((part) => {
    const title = titleOf(part)
    const fresh = sections.find((section) => title !== undefined && titleOf(section) === title)
    return fresh === undefined ? part : `${fresh.trimEnd()}\n\n`
  }).join("")
  for (const section of sections) {
    if (!parts.some((part) => titleOf(part) === titleOf(section))) {
      updated = `${updated.trimEnd()}\n\n${section.trimEnd()}\n`
    }
  }
  writeFileSync(target, updated.trimEnd() + "\n")
  console.error(`\nupdated ${sections.map(titleOf).join(", ")} in ${target}`)
}

if (wanted.length === 0) {
  const header = [
    "# Benchmarks",
    "",
    "Written by `pnpm bench` (do not edit by hand). Every benchmark runs its peers in the same run,",
    "on the same machine, and reports ratios; absolute numbers vary between machines, ratios less so.",
    "",
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, ${
      (totalmem() / 2 ** 30).toFixed(0)
    } GiB, ${arch()}, Node ${process.version}. Date: ${new Date().toISOString().slice(0, 10)}.`,
    ""
  ].join("\n")
  writeFileSync(target, `${header}\n${sections.join("\n\n")}\n`)
  console.error(`\nwrote ${target}`)
}
