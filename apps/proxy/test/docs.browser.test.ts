/**
 * `/docs` in a real headless Chromium (Debian's `chromium` package; CI's
 * `.ci/run` installs it): the page lists the four operations from
 * /openapi.json and its "try it" form sends a real request through the proxy.
 */
import { MockServer } from "@cubeplane/testing"
import { Redacted } from "effect"
import { existsSync } from "node:fs"
import { type Browser, chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Embedded from "../src/Embedded.js"
import * as Server from "../src/Server.js"
import * as Upstream from "../src/Upstream.js"

const executablePath = "/usr/bin/chromium"
const hasChromium = existsSync(executablePath)
if (!hasChromium) {
  console.warn(`SKIPPED the /docs browser test: ${executablePath} is absent (apt-get install -y chromium)`)
}

describe.skipIf(!hasChromium)("/docs in headless Chromium", () => {
  let mock: MockServer.RunningServer
  let proxy: Server.RunningProxy
  let browser: Browser

  beforeAll(async () => {
    mock = await MockServer.start({ port: 0 })
    const upstream = Upstream.make({
      url: mock.url,
      apiKey: Redacted.make(Embedded.mockAdminKey),
      timeoutMs: 5000,
      retries: 0
    })
    proxy = await Server.start({ config: Embedded.demoConfig(), upstream, log: () => undefined }, {
      port: 0,
      host: "127.0.0.1"
    })
    browser = await chromium.launch({
      executablePath,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run"
      ]
    })
  })

  afterAll(async () => {
    await browser?.close()
    await proxy?.close(1000)
    await mock?.close()
  })

  it("lists the four operations and tries one for real", async () => {
    const page = await browser.newPage()
    const failedRequests: Array<string> = []
    page.on("requestfailed", (request) => failedRequests.push(request.url()))
    await page.goto(`${proxy.url}/docs`)
    await page.waitForSelector("body[data-ready=true]", { timeout: 120_000 })
    const operations = await page.locator("[data-operation]").evaluateAll((nodes) =>
      nodes.map((node) => node.getAttribute("data-operation"))
    )
    expect(operations).toEqual(["listDeployments", "listEnvironments", "createMetaSyncToken", "exportAuditLog"])
    expect(await page.locator("#title").textContent()).toContain("Control Plane API")

    await page.fill("#key", Embedded.demoKeys.admin)
    await page.click("[data-operation=listDeployments] summary")
    await page.click("[data-send=listDeployments]")
    const result = page.locator("[data-operation=listDeployments] .result")
    await expect.poll(() => result.locator(".status").textContent(), { timeout: 120_000 }).toBe("200")
    expect(await result.locator(".response").textContent()).toContain("My Deployment")

    // The catalog key asking for a token beyond its grant: the 403 names the rule.
    await page.fill("#key", Embedded.demoKeys.catalog)
    await page.click("[data-operation=createMetaSyncToken] summary")
    await page.fill("#createMetaSyncToken-body", JSON.stringify({ security_context: { tenant_id: "globex" } }))
    await page.click("[data-send=createMetaSyncToken]")
    const token = page.locator("[data-operation=createMetaSyncToken] .result")
    await expect.poll(() => token.locator(".status").textContent(), { timeout: 120_000 }).toBe("403")
    expect(await token.locator(".response").textContent()).toContain("token.security_context.tenant_id")
    expect(failedRequests).toEqual([])
    await page.close()
  })

  it("on a 390 px phone screen, nothing is clipped: long paths wrap inside the page", async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } })
    await page.goto(`${proxy.url}/docs`)
    await page.waitForSelector("body[data-ready=true]", { timeout: 120_000 })
    for (const summary of await page.locator("[data-operation] summary").all()) await summary.click()
    const overflow = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      paths: [...document.querySelectorAll(".path")].map((node) => ({
        text: node.textContent,
        right: node.getBoundingClientRect().right,
        clipped: node.scrollWidth > node.clientWidth
      }))
    }))
    expect(overflow.page).toBeLessThanOrEqual(390)
    expect(overflow.paths.some((path) => (path.text ?? "").includes("tokens-for-meta-sync"))).toBe(true)
    for (const path of overflow.paths) {
      expect(path.right, path.text ?? "").toBeLessThanOrEqual(390)
      expect(path.clipped, path.text ?? "").toBe(false)
    }
    await page.close()
  })
})
