/**
 * `GET /metrics`: Prometheus text, for anyone on the proxy's port (default),
 * only for holders of the metrics key (`metrics.key_hash`), and/or only on a
 * separate listener (`metrics.port`, served by `Server.ts`), since the
 * metrics name every proxy key and show its traffic.
 *
 * @since 0.2.0
 */
import type { MetricsSettings } from "./Config.js"
import * as Keys from "./Keys.js"
import type { Metrics } from "./Metrics.js"

export interface MetricsAnswer {
  readonly status: number
  readonly body: string
  readonly headers: Record<string, string>
}

/** Answers a `/metrics` request given its `Authorization` header. */
export type MetricsEndpoint = (authorization: string | undefined) => MetricsAnswer

export const make = (settings: MetricsSettings | undefined, metrics: Metrics): MetricsEndpoint => {
  const ring = settings?.keyHash === undefined
    ? undefined
    : Keys.makeKeyRing([{ name: "metrics", hash: settings.keyHash, grants: [] }])
  return (authorization) => {
    if (ring !== undefined) {
      const presented = Keys.fromAuthorization(authorization)
      if (presented === undefined || ring.find(presented) === undefined) {
        return {
          status: 401,
          body: JSON.stringify({ error: "/metrics needs the metrics key: send `Authorization: Bearer <metrics key>`" }),
          headers: {
            "Content-Type": "application/json",
            "WWW-Authenticate": "Bearer realm=\"cubeplane-proxy metrics\""
          }
        }
      }
    }
    return {
      status: 200,
      body: metrics.render(),
      headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }
    }
  }
}

/** Whether the API port serves `/metrics` (it does not when metrics have a port of their own). */
export const onApiPort = (settings: MetricsSettings | undefined): boolean => settings?.port === undefined
