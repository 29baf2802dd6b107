// `npm run build` (turbo runs it before `npm start`): the server as one ES module, dist/main.mjs, run by plain Node.
// The workspace's own TypeScript (src/, @backchannel/common) is bundled; every npm dependency stays an import of
// node_modules (native modules, PGlite's WASM and data files are found where npm put them). Running compiled
// JavaScript instead of TypeScript through tsx saves the loader's thread and transforms: ~80 MiB of resident memory
// on the embedded node (docs/benchmarks.md). `npm run dev` still runs the sources with tsx.
//   node build.mjs [entry=src/main.ts] [outdir=dist]
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Bundles `entry` into `outdir` (as <entry's name>.mjs, plus pglite-worker.mjs, mail-worker.mjs and a chunk per dynamic import, loaded
 * only when reached):
 * @backchannel/* inside, npm packages outside.
 */
export async function bundleServer(entry, outdir, external = []) {
  const pkg = JSON.parse(readFileSync(path.join(here, "package.json"), "utf8"));
  const packages = Object.keys(pkg.dependencies).filter((d) => !d.startsWith("@backchannel/"));
  await build({
    // Each worker thread starts from a file of its own, beside the code that starts it (threads.ts): the embedded
    // database's and the mail thread's.
    entryPoints: {
      [path.basename(entry, path.extname(entry))]: entry,
      "pglite-worker": path.join(here, "src/store/pglite-worker.ts"),
      "mail-worker": path.join(here, "src/notify/mail-worker.ts"),
    },
    outdir,
    splitting: true,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: [...packages, ...packages.map((p) => `${p}/*`), ...external],
    logLevel: "warning",
    // Not keepNames: it gives every function a `name` property of its own (measured: ~256 bytes per closure made per
    // socket); without minifying, names stay readable in stack traces anyway.
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [entry = path.join(here, "src/main.ts"), outdir = path.join(here, "dist")] = process.argv.slice(2);
  await bundleServer(entry, outdir);
}
