/**
 * The upstream of the proxy benchmark: a bare `node:http` server answering
 * every request with the same ~1 KB deployments list in the reference page's
 * wire format. Run as its own process; prints `{"port": N}` once listening.
 */
import * as http from "node:http"

const deployments = Array.from({ length: 8 }, (_, i) => ({
  id: String(123 + i),
  name: `Deployment number ${123 + i} (benchmark)`,
  created_at: "2024-01-15T10:30:00.000Z"
}))
const body = Buffer.from(JSON.stringify({ data: { deployments }, pagination: { offset: 0, limit: 20, total: 8 } }))

const server = http.createServer((req, res) => {
  req.resume()
  res.writeHead(200, { "content-type": "application/json", "content-length": body.length })
  res.end(body)
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.env["PORT"] ?? 0), "127.0.0.1", () => {
  const address = server.address()
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === "object" && address ? address.port : 0, bytes: body.length })}\n`
  )
})
