// Builds the front-end modules in omni_magic/notebook/static/: live.js (the live answer: the
// sources here that live.js imports, with marked inlined) and recorder.js (the recorder of
// issue 19, no third-party code), each one minified ES module with no imports (notebooks run
// offline: no CDN), and THIRD_PARTY_LICENSES.md beside them. Each bundle's first line states
// the sha256 of every source and of the lockfile it was built from; tests/test_bundle.py
// recomputes them, so a bundle older than its sources fails the tests.
//
//   cd js && npm ci && npm run build

import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const statics = join(here, "..", "omni_magic", "notebook", "static");
const sha256 = (name) => createHash("sha256").update(readFileSync(join(here, name))).digest("hex");
const marked = JSON.parse(readFileSync(join(here, "node_modules", "marked", "package.json"), "utf8"));

const inputs = [...readdirSync(here).filter((name) => name.endsWith(".js")).sort(), "package-lock.json"];
const digests = inputs.map((name) => `js/${name} sha256=${sha256(name)}`).join(" ");
const header = (bundle) => `// omni_magic ${bundle} bundle, built by js/build.mjs (do not edit): ${digests}`;

const options = {
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"], // what JupyterLab 4's browsers run: no helpers for class fields,
  minify: true, // the module's text goes to the page with every widget
  legalComments: "none", // marked's notice, with its whole licence, is in THIRD_PARTY_LICENSES.md
  charset: "utf8",
  logLevel: "info",
};

await esbuild.build({
  ...options,
  entryPoints: [join(here, "live.js")],
  outfile: join(statics, "live.js"),
  banner: {
    js: header("live.js") +
      `\n// Includes marked ${marked.version} (MIT License): see THIRD_PARTY_LICENSES.md beside this file.`,
  },
});

await esbuild.build({
  ...options,
  entryPoints: [join(here, "recorder.js")],
  outfile: join(statics, "recorder.js"),
  banner: { js: header("recorder.js") },
});

// The licence travels with the bundle: marked's own LICENSE file, word for word.
const licence = readFileSync(join(here, "node_modules", "marked", "LICENSE"), "utf8");
writeFileSync(
  join(statics, "THIRD_PARTY_LICENSES.md"),
  "# Third-party licences\n\n" +
    "`recorder.js` in this folder is built by `js/build.mjs` from this project's sources only (no third-party code).\n\n" +
    `\`live.js\` in this folder is built by \`js/build.mjs\` and includes marked ${marked.version}\n` +
    "(https://github.com/markedjs/marked). Its licence, copied from\n" +
    "`js/node_modules/marked/LICENSE`, follows.\n\n---\n\n" +
    licence,
);
