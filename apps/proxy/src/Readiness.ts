/**
 * `/readyz`: whether the upstream answers with the proxy's key. Probes from a
 * load balancer share one upstream check per second; a 401 or a 5xx (or no
 * answer) is "not ready", with a message saying which.
 *
 * @since 0.2.0
 */
import * as Api from "@cubeplane/core/Api"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import type { Upstream } from "./Upstream.js"

export interface ReadinessState {
  readonly ok: boolean
  readonly body: Record<string, unknown>
}

export const make = (upstream: Upstream, now: () => number): () => Promise<ReadinessState> => {
  let last: (ReadinessState & { readonly at: number }) | undefined
  let probing: Promise<void> | undefined

  const probe = async (): Promise<void> => {
    const started = performance.now()
    const outcome = await Effect.runPromise(Effect.either(
      upstream.send({
        operation: "listDeployments",
        method: "GET",
        path: `${Api.routes.deployments}?limit=1`,
        accept: "application/json",
        requestId: `readyz-${randomUUID()}`,
        retry: false
      }).pipe(Effect.tap((response) => Effect.sync(() => response.discard())))
    ))
    const latency = Math.round(performance.now() - started)
    const at = now()
    if (outcome._tag === "Right") {
      last = {
        at,
        ok: true,
        body: { status: "ready", upstream: { status: outcome.right.status, latency_ms: latency } }
      }
      return
    }
    const error = outcome.left
    const notReady = (message: string) => {
      last = { at, ok: false, body: { error: upstream.redactor.text(message) } }
    }
    switch (error._tag) {
      case "Unauthorized":
        return notReady("the upstream Control Plane rejected the proxy's API key (401): check CUBE_API_KEY")
      case "ServerError":
        return notReady(`the upstream Control Plane answered ${error.status}`)
      case "TransportError":
        return notReady(`the upstream Control Plane is unreachable: ${error.message}`)
      case "UnexpectedResponse":
        return notReady(`the upstream Control Plane answered ${error.status}`)
      default:
        // A 4xx other than 401 (a 429, a 404): the upstream is there and knows the key.
        last = { at, ok: true, body: { status: "ready", upstream: { status: error.status, latency_ms: latency } } }
    }
  }

  return async () => {
    if (last === undefined || now() - last.at >= 1000) {
      probing ??= probe().finally(() => {
        probing = undefined
      })
      await probing
    }
    return last ?? { ok: false, body: { error: "not checked yet" } }
  }
}
