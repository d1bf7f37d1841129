/**
 * Meta-sync tokens as Cube core verifies them: HS256, signed with the
 * environment's `api_secret`, the security context at the ROOT of the
 * payload, plus `iat`, `exp` and `"cubeCloud": {"scopes": ["meta"]}`.
 *
 * @since 0.1.0
 */
import { jwtVerify, SignJWT } from "jose"
import type { JWTPayload } from "jose"

/** What marks a token as metadata-only for a Cube core with `contextToApiScopes`. */
export const metaScopes = { scopes: ["meta"] } as const

export interface SignOptions {
  /** The environment's `api_secret`. */
  readonly secret: string
  /** The security context: its keys become the token's root claims. */
  readonly securityContext: Readonly<Record<string, unknown>>
  /** Issued at, in seconds since the epoch. */
  readonly issuedAt: number
  /** Expires at, in seconds since the epoch. */
  readonly expiresAt: number
}

const keyOf = (secret: string): Uint8Array => new TextEncoder().encode(secret)

/**
 * Signs a meta-sync token. `iat`, `exp` and `cubeCloud` are set by the mock
 * (a security context that carries them is overridden: `cubeCloud` is
 * reserved for Cube Cloud).
 */
export const sign = (options: SignOptions): Promise<string> =>
  new SignJWT({ ...options.securityContext, cubeCloud: metaScopes })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt(options.issuedAt)
    .setExpirationTime(options.expiresAt)
    .sign(keyOf(options.secret))

/** Verifies a token as Cube core would (HS256, `exp` enforced) and returns its claims. */
export const verify = async (
  token: string,
  secret: string,
  options: { readonly currentDate?: Date } = {}
): Promise<JWTPayload> => {
  const { payload } = await jwtVerify(token, keyOf(secret), {
    algorithms: ["HS256"],
    ...(options.currentDate !== undefined ? { currentDate: options.currentDate } : {})
  })
  return payload
}
