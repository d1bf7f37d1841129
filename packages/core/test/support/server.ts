/**
 * A real `node:http` server on 127.0.0.1 (port 0) for tests: it answers what
 * each test scripts and records what it received.
 */
import { Effect } from "effect"
import { createServer } from "node:http"
import type { IncomingMessage, ServerResponse } from "node:http"

export interface Received {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage["headers"]
  readonly body: string
}

export interface TestServer {
  readonly url: string
  readonly port: number
  /** Every request, in arrival order. */
  readonly received: Array<Received>
  /** Requests whose socket closed before the response finished (the client went away). */
  readonly aborted: Array<Received>
}

export type Handler = (request: Received, response: ServerResponse, index: number) => void

const portOf = (server: ReturnType<typeof createServer>): number => {
  const address = server.address()
  if (typeof address !== "object" || address === null) throw new Error("the test server is not listening on TCP")
  return address.port
}

const readBody = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let body = ""
    request.setEncoding("utf8")
    request.on("data", (chunk: string) => (body += chunk))
    request.on("end", () => resolve(body))
    request.on("error", reject)
  })

/** Starts the server for the test's scope. */
export const startServer = (handler: Handler) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: ReturnType<typeof createServer>; readonly info: TestServer }>((resume) => {
      const received: Array<Received> = []
      const aborted: Array<Received> = []
      const server = createServer((request, response) => {
        void readBody(request).then((body) => {
          const entry: Received = {
            method: request.method ?? "",
            url: request.url ?? "",
            headers: request.headers,
            body
          }
          const index = received.length
          received.push(entry)
          response.on("close", () => {
            if (!response.writableFinished) aborted.push(entry)
          })
          handler(entry, response, index)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const port = portOf(server)
        resume(Effect.succeed({ server, info: { url: `http://127.0.0.1:${port}`, port, received, aborted } }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ info }) => info))

/** Sends a JSON body. */
export const json = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  response.writeHead(status, { "content-type": "application/json", ...headers })
  response.end(JSON.stringify(body))
}

/** A port nothing listens on: bind one, then close it. */
export const closedPort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = portOf(server)
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** The reference page's examples, on the wire. */
export const reference = {
  deployments: {
    data: { deployments: [{ id: "123", name: "My Deployment", created_at: "2024-01-15T10:30:00.000Z" }] },
    pagination: { offset: 0, limit: 20, total: 1 }
  },
  environments: {
    data: {
      environments: [
        {
          id: "456",
          name: "Production",
          type: "production",
          api_credentials: {
            rest: { url: "https://example.cubecloud.dev/cubejs-api" },
            sql: { host: "example.sql.cubecloud.dev", port: 5432 }
          }
        }
      ]
    },
    pagination: { offset: 0, limit: 20, total: 1 }
  },
  token: {
    data: {
      token: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig",
      created_at: "2024-01-15T10:30:00.000Z",
      expires_at: "2024-01-15T11:30:00.000Z"
    }
  }
} as const

export const auditCsv = [
  "id,timestamp,event_name,user_email,deployment_id,deployment_name,ip_address,attributes",
  `evt_1,2024-01-15T10:30:00.000Z,Logged in,user@example.com,,,203.0.113.7,"{""method"":""password""}"`,
  `evt_2,2024-01-16T08:00:00.000Z,Created deployment,admin@example.com,123,My Deployment,203.0.113.8,{}`
].join("\r\n") + "\r\n"

/**
 * A server in Cube's platform shape (`cube-platform-api.md`) listing `total`
 * deployments, at most `cap` per page: integer ids, flat `data` + `items`,
 * `pageInfo` cursors (`first`/`after`), and a 400 for a request that mixes
 * offset/limit with first/after, as the document says servers do.
 */
export const platformDeploymentsServer = (total: number, cap: number): Handler => (request, response) => {
  const url = new URL(request.url, "http://x")
  const has = (name: string) => url.searchParams.has(name)
  if ((has("first") || has("after")) && (has("offset") || has("limit"))) {
    return json(response, 400, { error: "offset/limit cannot be combined with first/after" })
  }
  const after = url.searchParams.get("after")
  const start = after !== null ? Number(Buffer.from(after, "base64url").toString().slice("row:".length)) + 1 : Number(
    url.searchParams.get("offset") ?? 0
  )
  const size = Math.min(Number(url.searchParams.get("first") ?? url.searchParams.get("limit") ?? 20), cap)
  const rows = []
  for (let i = start; i < Math.min(start + size, total); i++) {
    rows.push({
      id: 1000 + i,
      name: `Deployment ${i}`,
      deploymentUrl: `https://d${i}.cubecloud.dev`,
      creationStep: "ready"
    })
  }
  const cursor = (i: number) => Buffer.from(`row:${i}`).toString("base64url")
  const last = start + rows.length - 1
  json(response, 200, {
    data: rows,
    items: rows,
    pageInfo: {
      hasNextPage: last + 1 < total,
      hasPreviousPage: start > 0,
      startCursor: rows.length > 0 ? cursor(start) : null,
      endCursor: rows.length > 0 ? cursor(last) : null
    },
    pagination: null,
    count: rows.length,
    totalCount: total
  })
}
