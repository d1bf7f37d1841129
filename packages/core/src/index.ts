/**
 * @cubeplane/core — the Cube Cloud Control Plane API as Effect services.
 *
 * @since 0.1.0
 */
export * as Api from "./Api.js"
export * as AuditLog from "./AuditLog.js"
export * from "./ControlPlane.js"
export * as Csv from "./Csv.js"
export * as Dates from "./Dates.js"
export * as Domain from "./Domain.js"
export * from "./Errors.js"
export * as HttpControlPlane from "./HttpControlPlane.js"
export * as Json from "./Json.js"
export * as Pagination from "./Pagination.js"
/** The Promise client for code that does not use Effect (also at `@cubeplane/core/Promise`, with its error classes). */
export * as Paths from "./Paths.js"
export { createClient } from "./Promise.js"
export * as Retry from "./Retry.js"
