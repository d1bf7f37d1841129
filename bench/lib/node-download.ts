/**
 * The floor of any Node command line for `export --out`: Node's own `http`
 * client writing each chunk of the body to a temporary file beside the
 * target (`fs.writeSync`), then fsync, close and rename — what `cubeplane
 * audit-logs export --out` must do for an atomic, durable file — and nothing
 * else: no CLI to load, no row count, no progress line, no error handling.
 * `node node-download.js URL FILE`; run as plain JavaScript (see
 * `export.ts`), so it pays Node's start-up and nothing more.
 */
import * as fs from "node:fs"
import * as http from "node:http"

const [url, target] = process.argv.slice(2)
if (url === undefined || target === undefined) {
  process.stderr.write("usage: node-download URL FILE\n")
  process.exit(2)
}
const temporary = `${target}.${process.pid}.tmp`
const fd = fs.openSync(temporary, "wx")
let position = 0
http.get(url, { agent: false }, (response) => {
  if (response.statusCode !== 200) {
    process.stderr.write(`HTTP ${response.statusCode}\n`)
    process.exit(1)
  }
  response.on("data", (chunk: Buffer) => {
    for (let done = 0; done < chunk.length;) {
      done += fs.writeSync(fd, chunk, done, chunk.length - done, position + done)
    }
    position += chunk.length
  })
  response.on("end", () => {
    fs.fsyncSync(fd)
    fs.closeSync(fd)
    fs.renameSync(temporary, target)
  })
})
