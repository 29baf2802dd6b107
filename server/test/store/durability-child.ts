// Run by durability.test.ts in a child process: opens the embedded database on argv[2] and commits
// argv[3] rows one transaction each, writing "begin n" before and "acked n" after each commit straight
// to fd 1 (one write(2) each, so a syscall trace shows where every acknowledgement falls). Then "done",
// and it waits to be killed: it never closes the database cleanly.
// With argv[4] = "fail-fsync" it then makes every fsync fail (fail-fsync-preload.cjs) and tries one more commit
// ("begin fail").
import fs from "node:fs";
import { openDb } from "../../src/store/db";

const [dataDir, count, mode] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
if (!dataDir || !Number.isInteger(count))
  throw new Error("usage: durability-child <dataDir> <count> [fail-fsync]");
const say = (line: string) => fs.writeSync(1, `${line}\n`);

const db = await openDb({ dataDir });
await db.query("CREATE TABLE IF NOT EXISTS kept (n int PRIMARY KEY, body text NOT NULL)");
const { rows } = await db.query<{ last: number }>("SELECT coalesce(max(n), 0) AS last FROM kept");
const first = (rows[0]?.last ?? 0) + 1;
say("ready");
for (let n = first; n < first + count; n++) {
  say(`begin ${n}`);
  await db.tx(async (q) => {
    await q.query("INSERT INTO kept (n, body) VALUES ($1, $2)", [n, "x".repeat(300)]);
  });
  say(`acked ${n}`);
}
if (mode === "fail-fsync") {
  // From now on every fsync fails, in every thread (fail-fsync-preload.cjs, loaded with --require).
  const marker = process.env.FAIL_FSYNC_MARKER;
  if (!marker) throw new Error("fail-fsync needs FAIL_FSYNC_MARKER and --require fail-fsync-preload.cjs");
  fs.writeFileSync(marker, "");
  say("begin fail");
  await db.tx((q) =>
    q.query("INSERT INTO kept (n, body) VALUES ($1, 'never acknowledged')", [first + count]),
  );
  say("acked fail");
}
say("done");
setInterval(() => {}, 60_000);
