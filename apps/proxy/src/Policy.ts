/**
 * Grants: what a proxy key may do. A request is allowed when at least one of
 * the key's grants allows it; otherwise the refusal names the rule it broke,
 * taken from the grant that came closest to allowing it, so a 403 tells the
 * caller what to change.
 *
 * Rules, checked in this order per grant:
 * 1. `operations`: the operation is listed (or `"*"`).
 * 2. `deployments`: when present, the deployment id is listed.
 * 3. `environments`: when present, the environment id is listed.
 * 4. `token` (meta-sync tokens only):
 *    - `max_expires_in`: `expires_in` is at most this (when the request leaves
 *      `expires_in` out, the proxy asks for exactly this maximum instead of the
 *      server's 24 h default);
 *    - `security_context`: each listed claim is present with exactly this value;
 *    - `scopes`: a request's `scopes` must all be listed (no `scopes` rule: a
 *      request may not send `scopes` at all).
 *    Always: the security context may not carry `cubeCloud`, which Cube Cloud
 *    reserves (the mock stores a token's API scopes there).
 *
 * @since 0.1.0
 */
import type { Operation } from "@cubeplane/core/Api"
import { Context, Layer } from "effect"
import type { Grant, KeyConfig } from "./Config.js"

/** What a request asks for, after validation. */
export type Access =
  | { readonly operation: "listDeployments" }
  | { readonly operation: "listEnvironments"; readonly deploymentId: string }
  | {
    readonly operation: "createMetaSyncToken"
    readonly deploymentId: string
    readonly environmentId: string
    readonly token: TokenRequest
  }
  | { readonly operation: "exportAuditLog" }

export interface TokenRequest {
  readonly expiresIn: number | undefined
  readonly securityContext: Readonly<Record<string, unknown>>
  readonly scopes: ReadonlyArray<string> | undefined
}

export type Decision =
  | {
    readonly allowed: true
    /** For tokens: the `expires_in` to send upstream when the request left it out and the grant caps it. */
    readonly defaultExpiresIn?: number
  }
  | {
    readonly allowed: false
    /** The rule that refused: `operations`, `deployments`, `environments`, `token.max_expires_in`, … */
    readonly rule: string
    readonly message: string
  }

interface Refusal {
  readonly allowed: false
  readonly rule: string
  readonly message: string
  /** How far the grant got before it refused; the furthest refusal is reported. */
  readonly stage: number
}

export const grantsOperation = (grant: Grant, operation: Operation): boolean =>
  grant.operations.includes("*") || grant.operations.includes(operation)

const listed = (ids: ReadonlyArray<string>): string => ids.length === 0 ? "none" : ids.join(", ")

const deploymentOf = (access: Access): string | undefined =>
  access.operation === "listEnvironments" || access.operation === "createMetaSyncToken"
    ? access.deploymentId
    : undefined

const checkGrant = (keyName: string, grant: Grant, access: Access): Decision | Refusal => {
  const who = `key "${keyName}"`
  if (!grantsOperation(grant, access.operation)) {
    return {
      allowed: false,
      stage: 0,
      rule: "operations",
      message: `${who} is not granted the operation ${access.operation}`
    }
  }
  const deploymentId = deploymentOf(access)
  if (deploymentId !== undefined && grant.deployments !== undefined && !grant.deployments.includes(deploymentId)) {
    return {
      allowed: false,
      stage: 1,
      rule: "deployments",
      message: `${who} is not granted deployment ${deploymentId} for ${access.operation} (granted: ${
        listed(grant.deployments)
      })`
    }
  }
  if (access.operation !== "createMetaSyncToken") return { allowed: true }

  const { environmentId, token } = access
  if (grant.environments !== undefined && !grant.environments.includes(environmentId)) {
    return {
      allowed: false,
      stage: 2,
      rule: "environments",
      message: `${who} is not granted environment ${environmentId} (granted: ${listed(grant.environments)})`
    }
  }
  if ("cubeCloud" in token.securityContext) {
    return {
      allowed: false,
      stage: 3,
      rule: "token.security_context.cubeCloud",
      message: "security_context.cubeCloud is reserved for Cube Cloud and may not be set through the proxy"
    }
  }
  const rules = grant.token
  if (token.scopes !== undefined) {
    const allowedScopes = rules?.scopes ?? []
    const extra = token.scopes.filter((scope) => !allowedScopes.includes(scope))
    if (extra.length > 0) {
      return {
        allowed: false,
        stage: 3,
        rule: "token.scopes",
        message: `${who} may not ask for the token scope(s) ${extra.join(", ")} (allowed: ${listed(allowedScopes)})`
      }
    }
  }
  if (rules === undefined) return { allowed: true }
  if (rules.maxExpiresIn !== undefined && token.expiresIn !== undefined && token.expiresIn > rules.maxExpiresIn) {
    return {
      allowed: false,
      stage: 3,
      rule: "token.max_expires_in",
      message: `${who} may mint tokens for at most ${rules.maxExpiresIn} seconds; expires_in ${token.expiresIn} is more`
    }
  }
  if (rules.securityContext !== undefined) {
    for (const claim of Object.keys(rules.securityContext)) {
      const required = rules.securityContext[claim]
      const given = token.securityContext[claim]
      if (!sameJson(required, given)) {
        return {
          allowed: false,
          stage: 3,
          rule: `token.security_context.${claim}`,
          message: `${who} may only mint tokens with security_context.${claim} = ${JSON.stringify(required)}; ${
            given === undefined ? "it is missing" : `got ${JSON.stringify(given)}`
          }`
        }
      }
    }
  }
  return rules.maxExpiresIn !== undefined && token.expiresIn === undefined
    ? { allowed: true, defaultExpiresIn: rules.maxExpiresIn }
    : { allowed: true }
}

/** Whether `key` may make the request; the refusal names the rule. */
export const authorize = (key: KeyConfig, access: Access): Decision => {
  let refusal: Refusal | undefined
  for (const grant of key.grants) {
    const decision = checkGrant(key.name, grant, access)
    if (decision.allowed) return decision
    if ("stage" in decision && (refusal === undefined || decision.stage > refusal.stage)) refusal = decision
  }
  if (refusal === undefined) {
    return { allowed: false, rule: "grants", message: `key "${key.name}" has no grants` }
  }
  return { allowed: false, rule: refusal.rule, message: refusal.message }
}

/** Which ids a list shows: all of them, or only these. */
export type Visible = "all" | ReadonlySet<string>

/** The deployments `key` may see in the deployments list. */
export const visibleDeployments = (key: KeyConfig): Visible => {
  const ids = new Set<string>()
  for (const grant of key.grants) {
    if (!grantsOperation(grant, "listDeployments")) continue
    if (grant.deployments === undefined) return "all"
    for (const id of grant.deployments) ids.add(id)
  }
  return ids
}

/** The environments of `deploymentId` that `key` may see in its environments list. */
export const visibleEnvironments = (key: KeyConfig, deploymentId: string): Visible => {
  const ids = new Set<string>()
  for (const grant of key.grants) {
    if (!grantsOperation(grant, "listEnvironments")) continue
    if (grant.deployments !== undefined && !grant.deployments.includes(deploymentId)) continue
    if (grant.environments === undefined) return "all"
    for (const id of grant.environments) ids.add(id)
  }
  return ids
}

/** A stable name for a visibility, for cache keys: keys that see the same ids share entries. */
export const scopeName = (visible: Visible): string => visible === "all" ? "*" : [...visible].sort().join(",")

/** Structural equality of JSON values (object key order does not matter). */
export const sameJson = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    return a.every((item, index) => sameJson(item, b[index]))
  }
  const aKeys = Object.keys(a)
  const bKeys = Object.keys(b)
  if (aKeys.length !== bKeys.length) return false
  return aKeys.every((k) => Object.hasOwn(b, k) && sameJson(Reflect.get(a, k), Reflect.get(b, k)))
}

/** The policy as a service: the config's grants with `layer`; another policy source is another layer. */
export class Grants extends Context.Tag("cubeplane-proxy/Grants")<Grants, {
  readonly authorize: (key: KeyConfig, access: Access) => Decision
  /** The ids `key` sees in the list `access` asks for. */
  readonly visibility: (key: KeyConfig, access: Access) => Visible
}>() {}

export const layer: Layer.Layer<Grants> = Layer.sync(Grants, () => {
  // A key's config is immutable (a reload makes new ones): the deployments it sees are worked out
  // once per key. (Environments depend on a deployment id the caller names: not kept, so a caller
  // cannot grow this memory.)
  const deployments = new WeakMap<KeyConfig, Visible>()
  return {
    authorize,
    visibility: (key, access) => {
      if (access.operation === "listEnvironments") return visibleEnvironments(key, access.deploymentId)
      let visible = deployments.get(key)
      if (visible === undefined) deployments.set(key, visible = visibleDeployments(key))
      return visible
    }
  }
})
