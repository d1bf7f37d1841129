/**
 * What every benchmark that starts servers needs: a free loopback port, and a
 * start-up wait until a URL answers.
 */
import * as net from "node:net"

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
    server.on("error", reject)
  })

/** Polls `url` until it answers 2xx (a start-up wait, at most 20 s). */
export const waitFor = async (url: string, headers: Record<string, string> = {}) => {
  const deadline = Date.now() + 20_000
  for (;;) {
    try {
      const response = await fetch(url, { headers })
      await response.arrayBuffer()
      if (response.ok) return
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
