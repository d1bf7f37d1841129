#!/usr/bin/env node
// `pnpm cubeplane <args>` from the repo root: a bin (pnpm runs it as `pnpm exec cubeplane`),
// not a package.json script, so pnpm prints no header on stdout and `pnpm cubeplane … | jq`
// reads the CLI's output alone. Builds the CLI first if needed.
import process from "node:process"
import { runTarget } from "./run.mjs"

await runTarget("cli", process.argv.slice(2))
