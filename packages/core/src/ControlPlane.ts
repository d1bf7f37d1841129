/**
 * The `ControlPlane` service: the Control Plane API as Effect values.
 *
 * Provide it with `HttpControlPlane.layer(...)` / `HttpControlPlane.layerConfig()`
 * in production and `ControlPlaneTest.layer(seed)` (from `@cubeplane/testing`)
 * in tests; code that uses it does not change.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as AuditLog from "./AuditLog.js"
import type * as Csv from "./Csv.js"
import type {
  AuditLogEvent,
  AuditLogFilter,
  Deployment,
  Environment,
  EnvironmentListOptions,
  EnvironmentStreamOptions,
  MetaSyncToken,
  MetaSyncTokenInput,
  Page,
  PageOptions,
  StreamOptions
} from "./Domain.js"
import type { ControlPlaneError } from "./Errors.js"
import { UnexpectedResponse } from "./Errors.js"
import * as Pagination from "./Pagination.js"
import { paths } from "./Paths.js"

export interface ControlPlaneService {
  /** One page of the deployments the key can see. */
  readonly listDeployments: (options?: PageOptions) => Effect.Effect<Page<Deployment>, ControlPlaneError>
  /** Every deployment, page by page as the consumer pulls. */
  readonly deployments: (options?: StreamOptions) => Stream.Stream<Deployment, ControlPlaneError>
  /** One page of a deployment's environments, optionally of one `type`. */
  readonly listEnvironments: (
    deploymentId: string,
    options?: EnvironmentListOptions
  ) => Effect.Effect<Page<Environment>, ControlPlaneError>
  /** Every environment of a deployment. */
  readonly environments: (
    deploymentId: string,
    options?: EnvironmentStreamOptions
  ) => Stream.Stream<Environment, ControlPlaneError>
  /** Mints a JWT for the Metadata API. Never retried once the server may have acted on it. */
  readonly createMetaSyncToken: (
    deploymentId: string,
    environmentId: string,
    input: MetaSyncTokenInput
  ) => Effect.Effect<MetaSyncToken, ControlPlaneError>
  /** The audit-log export as the server sends it: CSV bytes, to save as is. */
  readonly exportAuditLog: (filter?: AuditLogFilter) => Stream.Stream<Uint8Array, ControlPlaneError>
  /** The audit-log export parsed into events, oldest first, in bounded memory. */
  readonly auditLogEvents: (filter?: AuditLogFilter) => Stream.Stream<AuditLogEvent, ControlPlaneError>
}

export class ControlPlane extends Context.Tag("@cubeplane/core/ControlPlane")<ControlPlane, ControlPlaneService>() {}

/** What an implementation must provide; `make` derives the streams from it. */
export interface ControlPlanePrimitives {
  readonly listDeployments: ControlPlaneService["listDeployments"]
  readonly listEnvironments: ControlPlaneService["listEnvironments"]
  readonly createMetaSyncToken: ControlPlaneService["createMetaSyncToken"]
  readonly exportAuditLog: ControlPlaneService["exportAuditLog"]
}

/**
 * A malformed export (a `CsvError` or an `AuditLogRowError`) as the
 * `UnexpectedResponse` of the request, saying where.
 */
export const malformedAuditLogError = (
  path: string,
  error: Csv.CsvError | AuditLog.AuditLogRowError
): UnexpectedResponse => {
  const detail = error._tag === "CsvError"
    ? `row ${error.row}, column ${error.column}: ${error.message}`
    : `event ${JSON.stringify(error.id)}: ${error.detail}`
  return new UnexpectedResponse({
    message: `Unexpected response from GET ${path}: the audit-log CSV is malformed (${detail})`,
    method: "GET",
    path,
    status: 200,
    detail
  })
}

const malformedAuditLog = (path: string) =>
<A, R>(
  stream: Stream.Stream<A, ControlPlaneError | Csv.CsvError | AuditLog.AuditLogRowError, R>
): Stream.Stream<A, ControlPlaneError, R> =>
  Stream.catchTags(stream, {
    CsvError: (error) => Stream.fail(malformedAuditLogError(path, error)),
    AuditLogRowError: (error) => Stream.fail(malformedAuditLogError(path, error))
  })

/**
 * Parses a CSV export into events (with `AuditLog.decodeCsv`: the Domain
 * schemas, compiled once per file); a malformed file or row is an
 * `UnexpectedResponse` saying where.
 */
export const parseAuditLog =
  (path: string) =>
  <R>(bytes: Stream.Stream<Uint8Array, ControlPlaneError, R>): Stream.Stream<AuditLogEvent, ControlPlaneError, R> =>
    malformedAuditLog(path)(AuditLog.decodeCsv(bytes))

/**
 * A CSV export as NDJSON bytes (with `AuditLog.csvToNdjson`: the lines of
 * the events `parseAuditLog` gives, in their JSON form); a malformed file or
 * row is an `UnexpectedResponse` saying where, after the lines before it;
 * `onRows` is told the events written so far after each chunk.
 */
export const auditLogNdjson =
  (path: string, onRows?: (rows: number) => void) =>
  <R>(bytes: Stream.Stream<Uint8Array, ControlPlaneError, R>): Stream.Stream<Uint8Array, ControlPlaneError, R> =>
    malformedAuditLog(path)(AuditLog.csvToNdjson(bytes, onRows))

/** A server's paging that cannot be followed (a repeated cursor, …): an `UnexpectedResponse` for that list. */
const brokenPaging = (path: string) => (reason: string) =>
  new UnexpectedResponse({
    message: `Unexpected response from GET ${path}: ${reason}`,
    method: "GET",
    path,
    status: 200,
    detail: reason
  })

/** Builds the full service from its primitives: the streams are derived, the same way for every implementation. */
export const make = (primitives: ControlPlanePrimitives): ControlPlaneService => ({
  ...primitives,
  deployments: (options = {}) =>
    Pagination.stream((page) => primitives.listDeployments(page), options, brokenPaging(paths.deployments)),
  environments: (deploymentId, options = {}) =>
    Pagination.stream(
      (page) =>
        primitives.listEnvironments(deploymentId, {
          ...page,
          ...(options.type !== undefined ? { type: options.type } : {})
        }),
      options,
      brokenPaging(paths.environments(deploymentId))
    ),
  auditLogEvents: (filter) => primitives.exportAuditLog(filter).pipe(parseAuditLog(paths.auditLogExport))
})
