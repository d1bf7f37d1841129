/**
 * Real-port fixtures of the `NodeHttp` tests: Node servers on 127.0.0.1,
 * raw TCP servers that write whatever bytes a test needs, a self-signed
 * certificate, and reading a `Body` whole.
 */
import { readFileSync } from "node:fs"
import * as net from "node:net"
import type * as NodeHttp from "../../src/NodeHttp.js"
import type * as Transport from "../../src/Transport.js"

/** A self-signed certificate for 127.0.0.1 and localhost, made for these tests only (its key protects nothing). */
export const testCertificate = {
  cert: readFileSync(new URL("./tls/cert.pem", import.meta.url)),
  key: readFileSync(new URL("./tls/key.pem", import.meta.url))
}

/** The servers a test started (`listen`); `closeServers` after each test. */
export const servers: Array<net.Server> = []
export const closeServers = async (): Promise<void> => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))))
}

export const listen = async (server: net.Server): Promise<string> => {
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  if (typeof address !== "object" || address === null) throw new Error("the test server is not listening on TCP")
  return `http://127.0.0.1:${address.port}`
}

/** A raw TCP server: `answer` writes whatever bytes it likes once the request head arrived. */
export const rawServer = (answer: (socket: net.Socket, head: string) => void) =>
  listen(net.createServer((socket) => {
    let head = ""
    socket.on("error", () => undefined)
    socket.on("data", (chunk: Buffer) => {
      if (head.includes("\r\n\r\n")) return
      head += chunk.toString("latin1")
      if (head.includes("\r\n\r\n")) answer(socket, head)
    })
  }))

export const get = (
  origin: string,
  path = "/api/v1/audit-logs/export",
  headers: Record<string, string> = {}
): Transport.ExchangeRequest => ({
  method: "GET",
  url: `${origin}${path}`,
  origin,
  path,
  headers: { accept: "text/csv", ...headers }
})

export type Outcome = { readonly bytes: Buffer; readonly error?: Error }

/** Reads a whole body, copying each chunk as it comes. */
export const collect = (body: NodeHttp.Body): Promise<Outcome> =>
  new Promise((resolve) => {
    const pieces: Array<Buffer> = []
    body.start({
      chunk: (chunk) => void pieces.push(Buffer.from(chunk)),
      end: () => resolve({ bytes: Buffer.concat(pieces) }),
      fail: (error) => resolve({ bytes: Buffer.concat(pieces), error })
    })
  })

export const pattern = (size: number): Buffer => {
  const bytes = Buffer.alloc(size)
  for (let i = 0; i < size; i++) bytes[i] = 0x41 + ((i * 7 + (i >> 9)) % 26)
  return bytes
}

/** Writes `bytes` in pieces of `size`, each after the previous one was flushed. */
export const writeInPieces = async (socket: net.Socket, bytes: Buffer, size: number) => {
  for (let at = 0; at < bytes.length; at += size) {
    await new Promise<void>((resolve) => socket.write(bytes.subarray(at, at + size), () => resolve()))
  }
}
