/**
 * `cubeplane deployments list`, loaded when it runs.
 */
import type { ConnectionFlags, PageFlags } from "../Flags.js"
import * as Listing from "../Listing.js"
import * as Session from "../Session.js"
import * as Views from "../Views.js"

export const list = (flags: ConnectionFlags & PageFlags) =>
  Session.run(flags, ({ controlPlane }) =>
    Listing.print({
      view: Views.deployment,
      flags,
      noun: "deployments",
      page: (options) => controlPlane.listDeployments(options),
      all: (options) => controlPlane.deployments(options)
    }))
