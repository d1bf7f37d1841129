/**
 * `ParserRefusal`: what Node's HTTP parser refuses, answered on a real port
 * with the API's `{"error"}` body instead of Node's bare status line.
 */
import * as http from "node:http"
import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as ParserRefusal from "../src/ParserRefusal.js"

/** Sends `text` on a fresh connection and reads until the server closes it. */
const exchange = (port: number, text: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(text))
    let answer = ""
    socket.setEncoding("latin1")
    socket.on("data", (data: string) => (answer += data))
    socket.on("end", () => resolve(answer))
    socket.on("error", reject)
  })

const parse = (answer: string) => {
  const [head = "", body = ""] = answer.split("\r\n\r\n")
  const lines = head.split("\r\n")
  const header = (name: string) =>
    lines.find((line) => line.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim()
  return {
    status: Number(lines[0]?.split(" ")[1]),
    type: header("content-type"),
    nosniff: header("x-content-type-options"),
    body: JSON.parse(body)
  }
}

let server: http.Server
let port: number
let handled = 0

beforeAll(async () => {
  server = http.createServer((_request, response) => {
    handled++
    response.end("{}")
  })
  server.on("clientError", ParserRefusal.answer)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  port = typeof address === "object" && address !== null ? address.port : 0
})

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

describe("ParserRefusal.answer", () => {
  it.each([
    ["not HTTP", "GARBAGE\r\n\r\n"],
    ["a header without a colon", "GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n"],
    [
      "Content-Length with Transfer-Encoding (smuggling)",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ]
  ])("%s: 400, JSON {error} saying what to send, connection closed", async (_name, text) => {
    const before = handled
    const answer = parse(await exchange(port, text))
    expect(answer.status).toBe(400)
    expect(answer.type).toBe("application/json")
    expect(answer.nosniff).toBe("nosniff")
    expect(answer.body.error).toContain("not valid HTTP/1.1")
    expect(answer.body.error).toContain("send one request line")
    expect(handled).toBe(before)
  })

  it("headers larger than Node accepts: 431 saying to shorten them", async () => {
    const answer = parse(await exchange(port, `GET /?q=${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`))
    expect(answer.status).toBe(431)
    expect(answer.body.error).toContain("send a shorter URL or fewer headers")
  })

  it("a well-formed request still reaches the handler", async () => {
    const answer = await exchange(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    expect(answer.startsWith("HTTP/1.1 200")).toBe(true)
  })

  it("describe: every other parser code is a 400 naming the code; a timeout is a 408", () => {
    expect(ParserRefusal.describe("HPE_INVALID_METHOD")[0]).toBe(400)
    expect(ParserRefusal.describe("HPE_INVALID_METHOD")[2]).toContain("(HPE_INVALID_METHOD)")
    expect(ParserRefusal.describe("ERR_HTTP_REQUEST_TIMEOUT").slice(0, 2)).toEqual([408, "Request Timeout"])
  })
})
