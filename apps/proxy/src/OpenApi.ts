/**
 * `/openapi.json`: the document `OpenApi.fromApi` derives from core's
 * `ControlPlaneApi` (the one definition of paths and schemas), plus what the
 * proxy adds: its key as the security scheme, the `format=ndjson` choice of
 * the export, and the statuses the proxy itself answers with (413, 502, 504).
 *
 * @since 0.1.0
 */
import * as Api from "@cubeplane/core/Api"
import * as OpenApi from "@effect/platform/OpenApi"

const errorContent: OpenApi.OpenApiSpecContent = {
  "application/json": {
    schema: {
      type: "object",
      required: ["error"],
      properties: { error: { type: "string" } },
      additionalProperties: true
    }
  }
}

const proxyResponses: OpenApi.OpenAPISpecResponses = {
  502: { description: "The upstream Control Plane failed or could not be reached", content: errorContent },
  504: { description: "The upstream Control Plane did not answer in time", content: errorContent }
}

// `NumberFromString` renders as "a string to be decoded into a number"; say what the proxy accepts.
const pageParameters: Record<string, { readonly description: string; readonly minimum: number }> = {
  offset: { description: "Items to skip: an integer ≥ 0 (default 0)", minimum: 0 },
  limit: { description: "Items per page: an integer ≥ 1 (default 20, at most 100)", minimum: 1 }
}

/** Builds the proxy's OpenAPI document once, at startup. */
export const document = (): OpenApi.OpenAPISpec => {
  const spec = OpenApi.fromApi(Api.ControlPlaneApi)
  spec.info.description =
    "The Cube Cloud Control Plane API as served by cubeplane-proxy: the same paths and bodies, authenticated with a proxy key (Authorization: Bearer <key>) that grants only what the key's config allows. Errors are `{\"error\": \"...\"}`."
  spec.components.securitySchemes["proxyKey"] = {
    type: "http",
    scheme: "bearer",
    description: "A proxy key (from `cubeplane-proxy keygen`); `Authorization: Api-Key <key>` works too."
  }
  spec.security = [{ proxyKey: [] }]
  spec.servers = [{ url: "/", description: "this proxy" }]
  for (const item of Object.values(spec.paths)) {
    for (const operation of [item.get, item.post]) {
      if (operation === undefined) continue
      operation.security = [{ proxyKey: [] }]
      Object.assign(operation.responses, proxyResponses)
      for (const parameter of operation.parameters) {
        const page = pageParameters[parameter.name]
        if (parameter.in === "query" && page !== undefined) {
          parameter.description = page.description
          parameter.schema = { type: "integer", minimum: page.minimum }
        }
      }
    }
  }
  const exportOperation = spec.paths[Api.routes.auditLogExport.replace(/:(\w+)/g, "{$1}")]?.get
  exportOperation?.parameters.push({
    name: "format",
    in: "query",
    required: false,
    description:
      "`csv` (default: the upstream CSV, streamed as is) or `ndjson` (one JSON event per line, converted on the fly)",
    schema: { type: "string", enum: ["csv", "ndjson"] }
  })
  const tokenOperation = spec.paths[Api.routes.metaSyncToken.replace(/:(\w+)/g, "{$1}")]?.post
  if (tokenOperation !== undefined) {
    tokenOperation.responses[413] = { description: "The body is larger than 64 KB", content: errorContent }
  }
  return spec
}
