/**
 * `cubeplane environments list`, loaded when it runs.
 */
import type { EnvironmentType } from "@cubeplane/core/Domain"
import type * as Option from "effect/Option"
import type { ConnectionFlags, PageFlags } from "../Flags.js"
import * as Listing from "../Listing.js"
import * as Session from "../Session.js"
import * as Views from "../Views.js"

/** What `environments list` parsed (its config is in commands/environments.ts; the command checks the match). */
export interface ListFlags extends ConnectionFlags, PageFlags {
  readonly deploymentId: string
  readonly type: Option.Option<EnvironmentType>
}

export const list = (flags: ListFlags) =>
  Session.run(flags, ({ controlPlane }) => {
    const typeFilter = flags.type._tag === "Some" ? { type: flags.type.value } : {}
    return Listing.print({
      view: Views.environment,
      flags,
      noun: "environments",
      page: (options) => controlPlane.listEnvironments(flags.deploymentId, { ...options, ...typeFilter }),
      all: (options) => controlPlane.environments(flags.deploymentId, { ...options, ...typeFilter })
    })
  })
