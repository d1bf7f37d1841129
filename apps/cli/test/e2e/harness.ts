/**
 * Runs the BUILT CLI (`dist/cubeplane.js`) as a child process, the way a user
 * or a CI job does, against the mock Control Plane on a real port. Every run
 * is scanned: no API key (nor any other registered secret) may appear in its
 * stdout or stderr.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { expect } from "vitest"

export const cli = fileURLToPath(new URL("../../dist/cubeplane.js", import.meta.url))

if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`pnpm --filter @cubeplane/cli build\` first`)

/** Keys the demo seed knows, plus the wrong ones tests send: none may ever be printed. */
export const secrets = ["sk-demo-admin", "sk-demo-viewer", "sk-demo-auditor", "sk-wrong-key-0000", "sk-env-wrong-1111"]

export interface Result {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Written to stdin, then stdin is closed. Default: stdin closed at once. */
  readonly input?: string
  /** A safety net for a run that hangs, not an expectation about speed. Default: 2 minutes. */
  readonly timeoutMs?: number
  /** For `mock serve`, which prints the mock's demo keys on purpose. */
  readonly allowSecrets?: boolean
}

/** A clean environment: no CUBE_* from the machine running the tests, a config dir of its own. */
export const baseEnv = (configHome: string): Record<string, string> => ({
  PATH: process.env.PATH ?? "",
  HOME: configHome,
  XDG_CONFIG_HOME: configHome
})

export const assertNoSecrets = (text: string, extra: ReadonlyArray<string> = []) => {
  for (const secret of [...secrets, ...extra]) expect(text, `output leaked ${secret}`).not.toContain(secret)
}

/** Starts the CLI; resolves when it exits. */
export const start = (args: ReadonlyArray<string>, options: RunOptions & { readonly configHome: string }) => {
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...baseEnv(options.configHome), ...options.env },
    stdio: ["pipe", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  child.stdin.on("error", () => undefined)
  if (options.input !== undefined) child.stdin.end(options.input)
  else child.stdin.end()
  const done = new Promise<Result>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`cubeplane ${args.join(" ")} did not finish in time.\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, options.timeoutMs ?? 120_000)
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      // Let the pipes drain.
      setImmediate(() => {
        const result = { code, signal, stdout, stderr }
        if (options.allowSecrets !== true) assertNoSecrets(stdout + stderr)
        resolve(result)
      })
    })
  })
  return {
    child,
    done,
    output: () => ({ stdout, stderr })
  }
}

export interface Cli {
  readonly configHome: string
  readonly run: (args: ReadonlyArray<string>, options?: RunOptions) => Promise<Result>
  readonly start: (args: ReadonlyArray<string>, options?: RunOptions) => ReturnType<typeof start>
  readonly cleanup: () => void
}

/** A CLI with its own temporary XDG_CONFIG_HOME. */
export const makeCli = (): Cli => {
  const configHome = mkdtempSync(path.join(tmpdir(), "cubeplane-cli-test-"))
  return {
    configHome,
    run: (args, options = {}) => start(args, { ...options, configHome }).done,
    start: (args, options = {}) => start(args, { ...options, configHome }),
    cleanup: () => rmSync(configHome, { recursive: true, force: true })
  }
}

/**
 * Waits until `check` holds, polling. The timeout only ends a wait that would
 * otherwise hang (a busy machine may take long); it is not an assertion about speed.
 */
export const eventually = async (check: () => boolean, what: string, timeoutMs = 120_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Registers a fault on the mock (see @cubeplane/testing's Faults). */
export const fault = async (url: string, body: Record<string, unknown>): Promise<void> => {
  const response = await fetch(`${url}/__mock/faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body)
  })
  if (!response.ok) throw new Error(`fault not registered: ${response.status} ${await response.text()}`)
}

export const clearFaults = async (url: string): Promise<void> => {
  await fetch(`${url}/__mock/faults`, { method: "DELETE" })
}

/** The complete lines of an output that may still be growing (the last, unterminated one is left out). */
export const completeLines = (text: string, separator = "\n"): Array<string> => {
  const end = text.lastIndexOf(separator)
  return end === -1 ? [] : text.slice(0, end).split(separator).filter((line) => line !== "")
}

export const stop = (child: ChildProcess, signal: NodeJS.Signals) => child.kill(signal)
