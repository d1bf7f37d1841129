/**
 * Seeds the end-to-end suites share.
 */
import { Seed } from "@cubeplane/testing"

/** The demo data plus 260 generated deployments and deployment `900` with 260 environments: lists of many pages. */
export const bigSeed = () => {
  const json = Seed.toJson(Seed.generate({ deployments: 260 }))
  return Seed.make({
    ...json,
    deployments: [
      ...(json.deployments ?? []),
      {
        id: "900",
        name: "Many environments",
        created_at: "2024-05-01T00:00:00.000Z",
        environments: Array.from({ length: 260 }, (_, k) => ({
          id: String(9000 + k),
          name: `Development (user-${k})`,
          type: "development" as const,
          api_secret: `secret-${k}`,
          user: `user-${k}@example.com`
        }))
      }
    ]
  })
}
