import { defineConfig } from "vitest/config";

export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  test: {
    environment: "jsdom",
    include: ["tests/**/*.test.{ts,tsx}"],
    // the tester ships untranspiled ESM that imports the extension's own modules
    server: { deps: { inline: ["@shopify/ui-extensions-tester"] } },
  },
});
