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
