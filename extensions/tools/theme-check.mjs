// Run theme-check on the theme app extension with Shopify's theme-app-extension config;
// print each offense and exit 1 when there is any (the package ships no command of its own).
import { check } from "@shopify/theme-check-node";
import path from "node:path";

const root = path.resolve(process.argv[2] ?? "shopify-theme");
const offenses = await check(root, "theme-check:theme-app-extension");
for (const offense of offenses) {
  const where = offense.uri.replace(`file://${root}/`, "");
  console.log(`${where}:${offense.start.line + 1} ${offense.check} ${offense.message}`);
}
console.log(`theme-check: ${offenses.length} offenses in ${root}`);
process.exit(offenses.length === 0 ? 0 : 1);
