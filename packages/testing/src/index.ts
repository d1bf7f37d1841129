/**
 * @cubeplane/testing — a stateful, faithful mock of the Cube Cloud Control
 * Plane API: an Effect test layer (`ControlPlaneTest`) and a Hono HTTP
 * server (`MockServer`) sharing one set of rules (`MockStore`).
 *
 * @since 0.1.0
 */
export * as Contract from "./Contract.js"
export * as ControlPlaneTest from "./ControlPlaneTest.js"
export * as Faults from "./Faults.js"
export * as Jwt from "./Jwt.js"
export * as Launch from "./Launch.js"
export * as MockServer from "./MockServer.js"
export * as MockStore from "./MockStore.js"
export * as Pipeline from "./Pipeline.js"
export * as Recording from "./Recording.js"
export * as Seed from "./Seed.js"
