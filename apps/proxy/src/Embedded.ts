/**
 * The embedded default: with no `CUBE_API_URL`, the proxy runs in front of
 * the mock Control Plane from `@cubeplane/testing` (on a free loopback port)
 * with a demo configuration, so `pnpm start` works on a fresh clone.
 *
 * @since 0.1.0
 */
import type { ProxyConfig } from "./Config.js"
import * as Keys from "./Keys.js"

/** The mock's admin key: what the proxy holds as its "real" key in demo mode. */
export const mockAdminKey = "sk-demo-admin"

/** The demo keys, printed at startup: public, so demo mode listens on loopback only. */
export const demoKeys = {
  admin: "cpk_demo_admin",
  catalog: "cpk_demo_catalog",
  viewer: "cpk_demo_viewer"
} as const

/** Three keys that show the grant rules: everything; Marco's catalog; a read-only key for deployment 123. */
export const demoConfig = (): ProxyConfig => ({
  upstream: { timeoutMs: 10_000, retries: 2 },
  cache: { ttlSeconds: 5, maxEntries: 1000 },
  keys: [
    { name: "demo-admin", hash: Keys.hash(demoKeys.admin), grants: [{ operations: ["*"] }] },
    {
      name: "demo-catalog",
      hash: Keys.hash(demoKeys.catalog),
      rateLimit: { requests: 60, windowSeconds: 60 },
      grants: [{
        operations: ["createMetaSyncToken"],
        deployments: ["123"],
        environments: ["456"],
        token: { maxExpiresIn: 3600, securityContext: { tenant_id: "acme" } }
      }]
    },
    {
      name: "demo-viewer",
      hash: Keys.hash(demoKeys.viewer),
      rateLimit: { requests: 120, windowSeconds: 60 },
      grants: [{ operations: ["listDeployments", "listEnvironments"], deployments: ["123"] }]
    }
  ]
})

/** What `pnpm start` prints in demo mode: every command works as printed. */
export const banner = (proxyUrl: string, mockUrl: string): string => {
  const line = "=".repeat(78)
  const token = `curl -s -X POST -H "Authorization: Bearer ${demoKeys.catalog}" -H "Content-Type: application/json" \\
    -d '{"security_context": {"tenant_id": "acme"}, "expires_in": 3600}' \\
    ${proxyUrl}/api/v1/deployments/123/environments/456/tokens-for-meta-sync`
  return [
    line,
    "  cubeplane-proxy — DEMO MODE: CUBE_API_URL is not set, so this proxy is in front of",
    `  the EMBEDDED MOCK Control Plane (${mockUrl}) with demo keys.`,
    "  Nothing here talks to Cube Cloud. Set CUBE_API_URL, CUBE_API_KEY and",
    "  CUBEPLANE_PROXY_CONFIG to proxy a real Control Plane (see apps/proxy/README.md).",
    line,
    "",
    `  Proxy:     ${proxyUrl}`,
    `  API docs:  ${proxyUrl}/docs`,
    `  Metrics:   ${proxyUrl}/metrics`,
    "",
    "  Demo keys:",
    `    ${demoKeys.admin}     demo-admin    everything`,
    `    ${demoKeys.catalog}   demo-catalog  meta-sync tokens for env 456 only, tenant_id=acme, <= 3600 s`,
    `    ${demoKeys.viewer}    demo-viewer   list deployment 123 and its environments`,
    "",
    "  Try it:",
    `    curl -s -H "Authorization: Bearer ${demoKeys.admin}" ${proxyUrl}/api/v1/deployments`,
    "",
    `    ${token}`,
    "",
    `    CUBE_API_URL=${proxyUrl} CUBE_API_KEY=${demoKeys.admin} pnpm cubeplane deployments list`,
    "",
    line,
    ""
  ].join("\n")
}
