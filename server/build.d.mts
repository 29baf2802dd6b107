/** Bundles `entry` into `outdir` as <name>.mjs, as server/build.mjs does for dist/main.mjs (npm packages stay imports). */
export function bundleServer(entry: string, outdir: string, external?: string[]): Promise<void>;
