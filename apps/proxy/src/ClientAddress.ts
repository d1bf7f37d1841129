/**
 * Who is calling, as an address: the socket's peer — or, only when that
 * peer is a configured trusted proxy (`auth_failures.trusted_proxies`), the
 * address it says it forwarded for. `X-Forwarded-For` is read from the
 * right (the entry the nearest proxy appended) and the first address that
 * is not a trusted proxy is the caller: whatever a caller writes into the
 * header itself stands left of that and is never believed. Without trusted
 * proxies the header is ignored.
 *
 * @since 0.2.0
 */
import { BlockList, isIP } from "node:net"
import type { Call } from "./Call.js"
import { blockOf } from "./ConfigSchema.js"

/** The caller's address of a request (an IPv6 one as its /64), or `undefined` where there is no socket (`app.request`). */
export type ClientAddress = (call: Call) => string | undefined

/** IPv4 written as IPv6 (`::ffff:10.0.0.7`, a dual-stack socket's peer) as plain IPv4. */
const plain = (address: string): string =>
  address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address

/**
 * The address failures are counted by: IPv4 as it is, IPv6 by its /64 (the
 * prefix one host or one customer is given: counting each of its 2^64
 * addresses apart would give it unlimited guesses), written
 * `2001:db8:0:1::/64`.
 */
export const countedAs = (address: string): string => {
  if (isIP(address) !== 6) return address
  const bare = address.split("%")[0]!
  const [head = "", tail] = bare.split("::")
  const headParts = head === "" ? [] : head.split(":")
  const tailParts = tail === undefined || tail === "" ? [] : tail.split(":")
  // An IPv4 tail (`64:ff9b::192.0.2.1`) stands for two groups; only the first four groups matter here.
  const tailGroups = tailParts.reduce((n, part) => n + (part.includes(".") ? 2 : 1), 0)
  const groups = [
    ...headParts,
    ...Array<string>(Math.max(0, 8 - headParts.length - tailGroups)).fill("0"),
    ...tailParts
  ]
  return `${groups.slice(0, 4).map((group) => Number.parseInt(group, 16).toString(16)).join(":")}::/64`
}

/** The longest address kept from a header (an IPv6 address is at most 45 characters). */
const maxLength = 45

export const make = (trustedProxies: ReadonlyArray<string>): ClientAddress => {
  const caller = callerOf(trustedProxies)
  return (call) => {
    const address = caller(call)
    return address === undefined ? undefined : countedAs(address)
  }
}

const callerOf = (trustedProxies: ReadonlyArray<string>): ClientAddress => {
  if (trustedProxies.length === 0) return (call) => socketAddress(call)
  const trusted = new BlockList()
  for (const entry of trustedProxies) {
    const block = blockOf(entry)
    if (block !== undefined) trusted.addSubnet(block[0], block[1], block[2])
  }
  const isTrusted = (address: string): boolean => {
    const version = isIP(address)
    return version !== 0 && trusted.check(address, version === 4 ? "ipv4" : "ipv6")
  }
  return (call) => {
    const peer = socketAddress(call)
    if (peer === undefined || !isTrusted(peer)) return peer
    const forwarded = call.header("x-forwarded-for")
    if (forwarded === undefined) return peer
    const hops = forwarded.split(",")
    let caller = peer
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = plain(hops[i]!.trim())
      // Not an address: what the nearest trusted proxy wrote is not readable; the last known hop stands.
      if (isIP(hop) === 0 || hop.length > maxLength) return caller
      caller = hop
      if (!isTrusted(hop)) return hop
    }
    return caller
  }
}

const socketAddress = (call: Call): string | undefined => {
  const address = call.c.env?.incoming?.socket.remoteAddress
  return address === undefined ? undefined : plain(address)
}
