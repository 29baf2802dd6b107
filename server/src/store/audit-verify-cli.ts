// Verifies an audit export offline:
//   npm run audit:verify -- <audit-export.json> [--heads <saved-heads.json>] [--key <public-key.pem>]
// --heads: the heads your client saved from the pushes it received (a JSON array of signed heads, or an object with a
//          "heads" array, as the web client's "Download saved heads" writes it); each must match the export.
// --key:   the server's published public key (GET /api/audit/key); without it the key inside the file is used,
//          which proves only that the file is consistent with itself.
// Exit codes: 0 intact, 1 broken (or a saved head disagrees), 2 the files could not be read.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { AuditFormatError, verifyAuditExport } from "./audit";

const USAGE = "usage: audit-verify <audit-export.json> [--heads <saved-heads.json>] [--key <public-key.pem>]";

function main(argv: string[]): number {
  const args = [...argv];
  let exportPath: string | undefined;
  let headsPath: string | undefined;
  let keyPath: string | undefined;
  while (args.length > 0) {
    const arg = args.shift() as string;
    if (arg === "--heads") headsPath = args.shift();
    else if (arg === "--key") keyPath = args.shift();
    else if (exportPath === undefined && !arg.startsWith("--")) exportPath = arg;
    else {
      console.error(USAGE);
      return 2;
    }
  }
  if (
    !exportPath ||
    (headsPath === undefined && argv.includes("--heads")) ||
    (keyPath === undefined && argv.includes("--key"))
  ) {
    console.error(USAGE);
    return 2;
  }
  const file = readJson(exportPath);
  if (file === undefined) return 2;
  let savedHeads: unknown[] | undefined;
  if (headsPath) {
    const heads = readJson(headsPath);
    if (heads === undefined) return 2;
    const list = Array.isArray(heads) ? heads : (heads as { heads?: unknown }).heads;
    if (!Array.isArray(list)) {
      console.error(`cannot read ${headsPath}: expected an array of signed heads, or {"heads": [...]}`);
      return 2;
    }
    savedHeads = list;
  }
  let publicKeyPem: string | undefined;
  if (keyPath) {
    publicKeyPem = readText(keyPath);
    if (publicKeyPem === undefined) return 2;
  }
  try {
    const verdict = verifyAuditExport(file, { savedHeads, publicKeyPem });
    if (verdict.ok) {
      const key = !verdict.signed
        ? "signature NOT checked: the file names no key; pass --key"
        : publicKeyPem
          ? "signature verified with the given key"
          : "signature checked with the file's own key";
      const saved = savedHeads ? `, ${verdict.savedHeadsChecked} saved head(s) match` : "";
      console.log(`OK: ${verdict.events} events, chain intact, head ${verdict.head} (${key}${saved})`);
      return 0;
    }
    console.log(`BROKEN at position ${verdict.brokenAt}: ${verdict.reason}`);
    return 1;
  } catch (err) {
    // Exit 1 means "the chain is broken"; any other failure must not be mistaken for that.
    const why = err instanceof AuditFormatError ? err.message : `unexpected error (${(err as Error).name})`;
    console.error(`cannot verify ${exportPath}: ${why}`);
    return 2;
  }
}

function readText(path: string): string | undefined {
  try {
    // npm runs the script from server/; INIT_CWD is where the user typed the command.
    return readFileSync(resolve(process.env.INIT_CWD ?? process.cwd(), path), "utf8");
  } catch (err) {
    console.error(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? "read failed"}`);
    return undefined;
  }
}

function readJson(path: string): unknown {
  const text = readText(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    console.error(`cannot read ${path}: not valid JSON`);
    return undefined;
  }
}

process.exitCode = main(process.argv.slice(2));
