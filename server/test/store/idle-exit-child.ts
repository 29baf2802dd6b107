// Run by db.test.ts in a child process: opens the embedded database in memory, waits for one statement, prints its
// answer and never closes the database. The process must end by itself: an idle database thread holds nothing open.
import { openDb } from "../../src/store/db";

const db = await openDb({});
const { rows } = await db.query<{ n: number }>("SELECT 1 AS n");
console.log(`answered ${rows[0]?.n}`);
