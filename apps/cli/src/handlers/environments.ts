/**
 * `cubeplane environments list`, loaded when it runs.
 */
import type { listConfig } from "../commands/environments.js"
import type { Parsed } from "../Flags.js"
import * as Listing from "../Listing.js"
import * as Session from "../Session.js"
import * as Views from "../Views.js"

export const list = (flags: Parsed<typeof listConfig>) =>
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
