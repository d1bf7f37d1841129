/**
 * The endpoint paths and operation names, written once. Kept apart from
 * `Api.ts` (the `HttpApi` declaration) so a client that only needs URLs does
 * not load the `HttpApi`/OpenAPI machinery.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

export const apiPrefix = "/api/v1"

/** Route patterns (`:param` style, as Hono and `HttpApi` write them). */
export const routes = {
  deployments: `${apiPrefix}/deployments`,
  environments: `${apiPrefix}/deployments/:deployment_id/environments`,
  metaSyncToken: `${apiPrefix}/deployments/:deployment_id/environments/:environment_id/tokens-for-meta-sync`,
  auditLogExport: `${apiPrefix}/audit-logs/export`
} as const

/** Concrete paths, with ids URL-encoded. */
export const paths = {
  deployments: routes.deployments,
  environments: (deploymentId: string) => `${apiPrefix}/deployments/${encodeURIComponent(deploymentId)}/environments`,
  metaSyncToken: (deploymentId: string, environmentId: string) =>
    `${apiPrefix}/deployments/${encodeURIComponent(deploymentId)}/environments/${
      encodeURIComponent(environmentId)
    }/tokens-for-meta-sync`,
  auditLogExport: routes.auditLogExport
} as const

/** The operations, by the names used in recorded calls, proxy grants, metrics and logs. */
export const Operation = Schema.Literal("listDeployments", "listEnvironments", "createMetaSyncToken", "exportAuditLog")
export type Operation = typeof Operation.Type
