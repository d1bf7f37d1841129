/**
 * Where the credentials come from: flag > environment > profile, `--api-key -`
 * from stdin, profiles in a 0600 file under XDG_CONFIG_HOME — and the key is
 * never printed, by `profiles list` or anyone else.
 */
import { MockServer, Seed } from "@cubeplane/testing"
import { readFileSync, statSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Cli } from "./harness.js"
import { makeCli } from "./harness.js"

let mock: Awaited<ReturnType<typeof MockServer.start>>
let cli: Cli

beforeAll(async () => {
  mock = await MockServer.start({ port: 0, seed: Seed.demo })
  cli = makeCli()
})
afterAll(async () => {
  await mock?.close()
  cli?.cleanup()
})

const configFile = () => `${cli.configHome}/cubeplane/config.json`

describe("profiles", () => {
  it("add reads the key from stdin and stores it in a file only the user can read", async () => {
    const added = await cli.run(["profiles", "add", "demo", "--url", mock.url, "--api-key", "-"], {
      input: "sk-demo-admin\n"
    })
    expect(added.code).toBe(0)
    expect(added.stderr).toContain("Saved profile \"demo\" (the default)")
    expect(statSync(configFile()).mode & 0o777).toBe(0o600)
    expect(statSync(`${cli.configHome}/cubeplane`).mode & 0o777).toBe(0o700)
    expect(JSON.parse(readFileSync(configFile(), "utf8")).profiles.demo.api_key).toBe("sk-demo-admin")

    const viewer = await cli.run([
      "profiles",
      "add",
      "viewer",
      "--url",
      mock.url,
      "--api-key",
      "-",
      "--auth-scheme",
      "bearer"
    ], {
      input: "sk-demo-viewer"
    })
    expect(viewer.code).toBe(0)
  })

  it("list shows names and URLs, never a key", async () => {
    const table = await cli.run(["profiles", "list", "-o", "table"])
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/^NAME\s+URL\s+AUTH SCHEME\s+DEFAULT/)
    expect(table.stdout).toMatch(/demo\s+http:\/\/\S+\s+auto\s+\*/)
    const json = JSON.parse((await cli.run(["profiles", "list", "-o", "json"])).stdout)
    expect(json).toEqual([
      { name: "demo", url: mock.url, default: true },
      { name: "viewer", url: mock.url, auth_scheme: "bearer", default: false }
    ])
  })

  it("the default profile is used when nothing else is given", async () => {
    const result = await cli.run(["deployments", "list", "--verbose"])
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout).length).toBe(3)
    expect(result.stderr).toContain("api key from profile \"demo\"")
  })

  it("the environment beats the profile (a wrong key there is what gets used)", async () => {
    const result = await cli.run(["deployments", "list"], { env: { CUBE_API_KEY: "sk-env-wrong-1111" } })
    expect(result.code).toBe(4)
    expect(result.stderr).toMatch(/check CUBE_API_KEY/)
  })

  it("a flag beats the environment", async () => {
    const result = await cli.run(["deployments", "list", "--api-key", "sk-demo-admin", "-v"], {
      env: { CUBE_API_KEY: "sk-env-wrong-1111" }
    })
    expect(result.code).toBe(0)
    expect(result.stderr).toContain("api key from --api-key")
  })

  it("--profile NAME is a flag: it beats the environment", async () => {
    const result = await cli.run(["environments", "list", "124", "--profile", "viewer", "-v"], {
      env: { CUBE_API_KEY: "sk-demo-admin" }
    })
    // The viewer key is scoped to deployment 123: 403 proves the profile's key was sent.
    expect(result.code).toBe(4)
    expect(result.stderr).toContain("api key from profile \"viewer\"")
    expect(result.stderr).toContain("auth scheme bearer (from profile \"viewer\")")
  })

  it("CUBE_AUTH_SCHEME is honoured and reported", async () => {
    const result = await cli.run(["deployments", "list", "-v"], { env: { CUBE_AUTH_SCHEME: "bearer" } })
    expect(result.code).toBe(0)
    expect(result.stderr).toContain("auth scheme bearer (from CUBE_AUTH_SCHEME)")
  })

  it("an unknown --profile is bad usage", async () => {
    const result = await cli.run(["deployments", "list", "--profile", "nope"])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/No profile named "nope" \(known: demo, viewer\)/)
  })

  it("use and remove", async () => {
    expect((await cli.run(["profiles", "use", "viewer"])).code).toBe(0)
    const listed = JSON.parse((await cli.run(["profiles", "list"])).stdout)
    expect(listed.find((p: { name: string }) => p.name === "viewer").default).toBe(true)
    expect((await cli.run(["profiles", "remove", "viewer"])).code).toBe(0)
    expect((await cli.run(["profiles", "remove", "viewer"])).code).toBe(2)
    const names = JSON.parse((await cli.run(["profiles", "list"])).stdout).map((p: { name: string }) => p.name)
    expect(names).toEqual(["demo"])
  })
})

describe("--api-key -", () => {
  it("reads the key from stdin, so it is in neither the shell history nor ps", async () => {
    const result = await cli.run(["deployments", "list", "--url", mock.url, "--api-key", "-", "-v"], {
      input: "sk-demo-admin\n",
      env: { XDG_CONFIG_HOME: `${cli.configHome}/empty` }
    })
    expect(result.code).toBe(0)
    expect(result.stderr).toContain("api key from --api-key - (stdin)")
    expect(JSON.parse(result.stdout).length).toBe(3)
  })
})
