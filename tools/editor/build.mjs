// Bundles entry.js with esbuild into ../../feedsvc/web/static/vendor/tiptap/tiptap.min.js and
// gathers the licence of every package that went into it. Run by `make vendor-editor`.
import { build } from "esbuild";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";

const out = "../../feedsvc/web/static/vendor/tiptap";
const result = await build({
  entryPoints: ["entry.js"],
  bundle: true,
  minify: true,
  format: "iife",
  globalName: "Tiptap",
  target: ["es2020"],
  legalComments: "none",
  metafile: true,
  outfile: `${out}/tiptap.min.js`,
});

// Every package with a file in the bundle, and its licence text.
const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (!match || packages.has(match[1])) continue;
  const root = input.slice(0, input.indexOf(match[1]) + match[1].length);
  const meta = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const file = ["LICENSE", "LICENSE.md", "LICENSE.txt", "license"].map((f) => join(root, f)).find(existsSync);
  packages.set(match[1], { version: meta.version, license: meta.license, text: file ? readFileSync(file, "utf8").trim() : "" });
}
const sections = [...packages].sort().map(
  ([name, p]) => `${name} ${p.version} (${p.license})\n${"-".repeat(40)}\n${p.text || `License: ${p.license}`}\n`,
);
writeFileSync(`${out}/LICENSES.txt`, `Licences of the packages bundled in tiptap.min.js\n\n${sections.join("\n")}`);
console.log([...packages].map(([n, p]) => `${n}@${p.version} ${p.license}`).join("\n"));
