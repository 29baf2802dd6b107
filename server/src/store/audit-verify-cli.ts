// Verifies an audit export offline: `npm run audit:verify -- <file>`.
// Exit codes: 0 chain intact, 1 chain broken, 2 the file could not be read as an audit export.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { AuditFormatError, verifyAuditExport } from "./audit";

function main(argv: string[]): number {
  const path = argv[0];
  if (!path || argv.length > 1) {
    console.error("usage: audit-verify <audit-export.json>");
    return 2;
  }
  let text: string;
  try {
    // npm runs the script from server/; INIT_CWD is where the user typed the command.
    text = readFileSync(resolve(process.env.INIT_CWD ?? process.cwd(), path), "utf8");
  } catch (err) {
    console.error(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? "read failed"}`);
    return 2;
  }
  let file: unknown;
  try {
    file = JSON.parse(text);
  } catch {
    console.error(`cannot verify ${path}: not valid JSON`);
    return 2;
  }
  try {
    const verdict = verifyAuditExport(file);
    if (verdict.ok) {
      console.log(`OK: ${verdict.events} events, chain intact, final hash ${verdict.finalChainHash}`);
      return 0;
    }
    console.log(`BROKEN at version ${verdict.brokenAt}: ${verdict.reason}`);
    return 1;
  } catch (err) {
    // Exit 1 means "the chain is broken"; any other failure must not be mistaken for that.
    const why = err instanceof AuditFormatError ? err.message : `unexpected error (${(err as Error).name})`;
    console.error(`cannot verify ${path}: ${why}`);
    return 2;
  }
}

process.exitCode = main(process.argv.slice(2));
