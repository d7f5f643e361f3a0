// Copies the minified cytoscape build and its license next to the HTML template.
// Run `npm install && npm run build` here after changing the version in package.json;
// the output (vendor/) is committed so seawall needs no npm at runtime.
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";

const src = "node_modules/cytoscape";
const pkg = JSON.parse(readFileSync(`${src}/package.json`, "utf8"));
mkdirSync("vendor", { recursive: true });
copyFileSync(`${src}/dist/cytoscape.min.js`, "vendor/cytoscape.min.js");
copyFileSync(`${src}/LICENSE`, "vendor/LICENSE.cytoscape");
const digest = createHash("sha256").update(readFileSync("vendor/cytoscape.min.js")).digest("hex");
console.log(`cytoscape ${pkg.version} (${pkg.license}) -> vendor/cytoscape.min.js sha256=${digest}`);
