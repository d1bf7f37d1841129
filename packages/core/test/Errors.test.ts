import { describe, expect, it } from "vitest"
import { fromResponse } from "../src/Errors.js"

describe("fromResponse", () => {
  const facts = { method: "GET", path: "/api/v1/deployments" }

  it("a 401 says where to look for the key", () => {
    expect(fromResponse({ ...facts, status: 401 }).message).toBe(
      "Unauthorized: the API key was rejected — check CUBE_API_KEY"
    )
  })

  it("a 401 whose server message already gives the advice does not repeat it", () => {
    const message = fromResponse({ ...facts, status: 401, serverMessage: "Unknown API key: check CUBE_API_KEY" })
      .message
    expect(message).toBe("Unauthorized: the API key was rejected: Unknown API key: check CUBE_API_KEY")
  })
})
