/**
 * The transfer limit of the export benchmark: a plain `node:http` server that
 * answers every GET with one file from disk (`fs.createReadStream`, 64 KiB
 * reads, piped with backpressure, `content-length` set), checking nothing.
 * `curl -o` and every cubeplane path fetch the same file from it, so the mock
 * does not bound the measurement. Run as its own process:
 * `node static-file-server.js FILE`; prints `{"port": N}` once listening.
 */
import { createReadStream, statSync } from "node:fs"
import * as http from "node:http"

const file = process.argv[2]
if (file === undefined) {
  process.stderr.write("usage: static-file-server FILE\n")
  process.exit(2)
}
const size = statSync(file).size

const server = http.createServer((req, res) => {
  req.resume()
  res.writeHead(200, {
    "content-type": "text/csv; charset=utf-8",
    "content-disposition": "attachment; filename=\"audit_log.csv\"",
    "content-length": size
  })
  createReadStream(file, { highWaterMark: 64 * 1024 }).pipe(res)
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.env["PORT"] ?? 0), "127.0.0.1", () => {
  const address = server.address()
  process.stdout.write(`${JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 })}\n`)
})
