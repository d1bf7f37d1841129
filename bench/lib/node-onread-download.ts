/**
 * The same work as `node-download.ts` — the body to a temporary file beside
 * the target (`fs.writeSync`), then fsync, close and rename — with the
 * socket read the way core's `NodeHttp` reads it: `net.connect` with
 * `onread` into ONE reused 64 KiB buffer, each read written before the next
 * (no allocation per read). A bare HTTP/1.1 GET, the body's end at the
 * close of the connection (`Connection: close`), nothing else: no CLI to
 * load, no row count, no progress line, no chunked decoding, no error
 * handling. `node node-onread-download.js URL FILE`; run as plain JavaScript
 * (see `export.ts`), so it pays Node's start-up and nothing more.
 */
import * as fs from "node:fs"
import * as net from "node:net"

const [url, target] = process.argv.slice(2)
if (url === undefined || target === undefined) {
  process.stderr.write("usage: node-onread-download URL FILE\n")
  process.exit(2)
}
const { hostname, pathname, port, search, host } = new URL(url)
const temporary = `${target}.${process.pid}.tmp`
const fd = fs.openSync(temporary, "wx")
const buffer = Buffer.allocUnsafeSlow(64 * 1024)
let position = 0
let head = ""
let inBody = false
const write = (bytes: Buffer) => {
  for (let done = 0; done < bytes.length;) {
    done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done)
  }
  position += bytes.length
}
const socket = net.connect({
  host: hostname,
  port: Number(port === "" ? 80 : port),
  onread: {
    buffer,
    callback: (nread) => {
      const read = buffer.subarray(0, nread)
      if (inBody) {
        write(read)
        return true
      }
      const before = head.length
      head += read.toString("latin1")
      const end = head.indexOf("\r\n\r\n")
      if (end === -1) return true
      if (!/^HTTP\/1\.[01] 200 /.test(head)) {
        process.stderr.write(`${head.split("\r\n", 1)[0]}\n`)
        process.exit(1)
      }
      inBody = true
      write(read.subarray(end + 4 - before))
      return true
    }
  }
})
socket.write(`GET ${pathname}${search} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
socket.on("end", () => {
  fs.fsyncSync(fd)
  fs.closeSync(fd)
  fs.renameSync(temporary, target)
})
