// One linter and one formatter (dprint, through @effect/eslint-plugin), as in Effect's own repo.
import * as effectEslint from "@effect/eslint-plugin"
import eslint from "@eslint/js"
import tseslint from "typescript-eslint"

/** Shipped code loads only the @effect/platform modules it uses (a restricted import, in two blocks below). */
const platformIndex = {
  name: "@effect/platform",
  message: "import the module itself (e.g. @effect/platform/HttpClient): the index loads all of @effect/platform",
  allowTypeImports: true
}

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/.turbo/**", "**/*.md"] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  ...effectEslint.configs.dprint,
  {
    files: ["**/*.ts", "**/*.mjs"],
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/ban-ts-comment": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/no-namespace": "off",
      "no-control-regex": "off",
      "@effect/dprint": [
        "error",
        {
          config: {
            indentWidth: 2,
            lineWidth: 120,
            semiColons: "asi",
            quoteStyle: "alwaysDouble",
            trailingCommas: "never",
            operatorPosition: "maintain",
            "arrowFunction.useParentheses": "force"
          }
        }
      ]
    }
  },
  {
    // Shipped code loads only the @effect/platform modules it uses: the package's index loads all of it
    // (about 35 MB of RSS in every process that imports the client, the proxy or the mock).
    files: ["packages/*/src/**/*.ts", "apps/*/src/**/*.ts"],
    rules: {
      "@typescript-eslint/no-restricted-imports": ["error", {
        paths: [platformIndex]
      }]
    }
  },
  {
    // The same for Effect in core and the CLI: the "effect" index loads all of Effect (~180 modules) in plain
    // Node, and in the CLI's bundle (where lazily loaded handlers make esbuild wrap every module) it evaluated
    // them all at every start, fast-check and BigDecimal included.
    files: ["packages/core/src/**/*.ts", "apps/cli/src/**/*.ts"],
    rules: {
      "@typescript-eslint/no-restricted-imports": ["error", {
        paths: [platformIndex, {
          name: "effect",
          message:
            "import the module itself (e.g. `import * as Effect from \"effect/Effect\"`): the index loads all of Effect",
          allowTypeImports: true
        }]
      }]
    }
  }
)
