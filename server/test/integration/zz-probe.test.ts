import { it, expect } from "vitest";
import { createStorage, startOn, Participant } from "../support/server";

it("probe", async () => {
  const storage = await createStorage("embedded");
  const server = await startOn(storage);
  const p = await new Participant(server.url, "P").signUp();
  const s = await p.connect();
  const closed = new Promise((r) => s.once("disconnect", (reason) => r(reason)));
  s.io.engine.write('2["command",{not json');
  console.log("disconnect reason", await closed);
  const q = await new Participant(server.url, "Q").signUp();
  await q.connect();
  console.log("ack", await q.emit("launch", {}, 1000).catch((e) => String(e)));
  const s2 = await q.connect();
  console.log("noarg", await s2.timeout(1000).emitWithAck("command").catch((e) => String(e)));
  const big = await q.connect();
  const c2 = new Promise((r) => big.once("disconnect", (reason) => r(reason)));
  big.emit("command", { x: "a".repeat(20000) });
  console.log("big", await c2);
  // origin
  const ev = new Participant(server.url, "E"); ev.token = q.token;
  console.log("origin", await ev.connect({ origin: "http://evil.example" }).then(() => "connected", (e) => `${e.message} ${JSON.stringify(e.data)} ${e.description}`));
  console.log("origin ok", await ev.connect({ origin: "http://allowed.example" }).then(() => "connected", (e) => String(e)));
  await server.close();
  await storage.dispose();
});
