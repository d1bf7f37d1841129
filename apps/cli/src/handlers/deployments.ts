/**
 * `cubeplane deployments list`, loaded when it runs.
 */
import type { listConfig } from "../commands/deployments.js"
import type { Parsed } from "../Flags.js"
import * as Listing from "../Listing.js"
import * as Session from "../Session.js"
import * as Views from "../Views.js"

export const list = (flags: Parsed<typeof listConfig>) =>
  Session.run(flags, ({ controlPlane }) =>
    Listing.print({
      view: Views.deployment,
      flags,
      noun: "deployments",
      page: (options) => controlPlane.listDeployments(options),
      all: (options) => controlPlane.deployments(options)
    }))
