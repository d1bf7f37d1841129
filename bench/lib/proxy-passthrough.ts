/**
 * The peer of the proxy benchmark: the plainest reasonable `node:http`
 * reverse proxy — a keep-alive agent, headers copied, bodies piped, nothing
 * checked. `UPSTREAM` is the target's origin; prints `{"port": N}` once listening.
 */
import * as http from "node:http"

const upstream = new URL(process.env["UPSTREAM"] ?? "http://127.0.0.1:9000")
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })

const server = http.createServer((req, res) => {
  const out = http.request(
    {
      agent,
      hostname: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: req.headers
    },
    (response) => {
      res.writeHead(response.statusCode ?? 502, response.headers)
      response.pipe(res)
    }
  )
  out.on("error", () => {
    if (!res.headersSent) res.writeHead(502)
    res.end()
  })
  req.pipe(out)
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.env["PORT"] ?? 0), "127.0.0.1", () => {
  const address = server.address()
  process.stdout.write(`${JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 })}\n`)
})
