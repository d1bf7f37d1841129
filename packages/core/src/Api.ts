/**
 * The endpoints, declared once: paths, path/query/body schemas, success and
 * error schemas with their statuses. The HTTP client builds its URLs from
 * `paths`, the mock and the proxy route on `routes` and validate with the
 * same query/body schemas, and the proxy serves `OpenApi.fromApi(ControlPlaneApi)`.
 *
 * @since 0.1.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import type { HttpMethod } from "@effect/platform/HttpMethod"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import {
  AuditLogQuery,
  Deployment,
  Environment,
  EnvironmentQuery,
  ErrorBody,
  MetaSyncToken,
  MetaSyncTokenInput,
  PageQuery,
  PlatformDeployment,
  PlatformEnvironment,
  PlatformListBody,
  ReferenceListBody
} from "./Domain.js"
import type { WireShape } from "./Domain.js"

export { apiPrefix, Operation, paths, routes } from "./Paths.js"
import { routes } from "./Paths.js"

/** The reference page's response shapes (what a server sends; the client also accepts the platform shape). */
export const wire = {
  deploymentList: ReferenceListBody("deployments", Deployment).annotations({ identifier: "DeploymentList" }),
  environmentList: ReferenceListBody("environments", Environment).annotations({ identifier: "EnvironmentList" }),
  metaSyncToken: Schema.Struct({ data: MetaSyncToken }).annotations({ identifier: "MetaSyncTokenResponse" })
} as const

/**
 * Cube's platform shapes (`cube-platform-api.md`): flat `data` + `items`,
 * `pageInfo`, integer deployment ids, credential arrays with nulls.
 */
export const platformWire = {
  deploymentList: PlatformListBody(PlatformDeployment).annotations({ identifier: "PlatformDeploymentList" }),
  environmentList: PlatformListBody(PlatformEnvironment).annotations({ identifier: "PlatformEnvironmentList" }),
  metaSyncToken: wire.metaSyncToken
} as const

/** The response schemas of one wire shape. */
export const wireOf = (shape: WireShape) => shape === "platform" ? platformWire : wire

const DeploymentPath = Schema.Struct({ deployment_id: Schema.String })
const EnvironmentPath = Schema.Struct({ deployment_id: Schema.String, environment_id: Schema.String })

const withErrors = <
  Name extends string,
  Method extends HttpMethod,
  Path,
  UrlParams,
  Payload,
  Headers,
  Success,
  Error,
  R,
  RE
>(endpoint: HttpApiEndpoint.HttpApiEndpoint<Name, Method, Path, UrlParams, Payload, Headers, Success, Error, R, RE>) =>
  endpoint
    .addError(ErrorBody.annotations({ identifier: "BadRequest", description: "Invalid parameters or body" }), {
      status: 400
    })
    .addError(
      ErrorBody.annotations({ identifier: "Unauthorized", description: "Missing, malformed or unknown API key" }),
      {
        status: 401
      }
    )
    .addError(
      ErrorBody.annotations({
        identifier: "Forbidden",
        description: "The key lacks the permission, deployment scope or plan"
      }),
      { status: 403 }
    )
    .addError(ErrorBody.annotations({ identifier: "TooManyRequests", description: "Rate limited; see Retry-After" }), {
      status: 429
    })

export class DeploymentsGroup extends HttpApiGroup.make("deployments")
  .add(
    withErrors(
      HttpApiEndpoint.get("listDeployments", routes.deployments)
        .setUrlParams(PageQuery)
        .addSuccess(wire.deploymentList)
        .annotate(OpenApi.Summary, "List deployments")
        .annotate(OpenApi.Description, "All deployments accessible to the authenticated key, paginated.")
    )
  )
  .add(
    withErrors(
      HttpApiEndpoint.get("listEnvironments", routes.environments)
        .setPath(DeploymentPath)
        .setUrlParams(EnvironmentQuery)
        .addSuccess(wire.environmentList)
        .addError(ErrorBody.annotations({ identifier: "NotFound", description: "Unknown deployment" }), { status: 404 })
        .annotate(OpenApi.Summary, "List environments")
        .annotate(OpenApi.Description, "Environments of a deployment, optionally filtered by type, paginated.")
    )
  )
{}

export class TokensGroup extends HttpApiGroup.make("tokens")
  .add(
    withErrors(
      HttpApiEndpoint.post("createMetaSyncToken", routes.metaSyncToken)
        .setPath(EnvironmentPath)
        .setPayload(MetaSyncTokenInput)
        .addSuccess(wire.metaSyncToken)
        .addError(ErrorBody.annotations({ identifier: "NotFound", description: "Unknown deployment or environment" }), {
          status: 404
        })
        .annotate(OpenApi.Summary, "Create a meta-sync token")
        .annotate(
          OpenApi.Description,
          "Mints a JWT scoped to the Metadata API, embedding the given security context."
        )
    )
  )
{}

export class AuditLogGroup extends HttpApiGroup.make("auditLog")
  .add(
    withErrors(
      HttpApiEndpoint.get("exportAuditLog", routes.auditLogExport)
        .setUrlParams(AuditLogQuery)
        .addSuccess(HttpApiSchema.Text({ contentType: "text/csv" }))
        .annotate(OpenApi.Summary, "Export the audit log")
        .annotate(
          OpenApi.Description,
          "Audit-log events as a CSV attachment, oldest first. Columns: id, timestamp, event_name, user_email, deployment_id, deployment_name, ip_address, attributes. Enterprise plan and AuditLogManage permission required."
        )
    )
  )
{}

/** The whole Control Plane API as one `HttpApi` value. */
export class ControlPlaneApi extends HttpApi.make("ControlPlaneApi")
  .add(DeploymentsGroup)
  .add(TokensGroup)
  .add(AuditLogGroup)
  .annotate(OpenApi.Title, "Cube Cloud Control Plane API")
  .annotate(OpenApi.Version, "v1")
{}
