// The mail thread: composes messages (mail-compose.ts) beside the server's event loop. Only ever a worker's entry; the
// server's side is mail-thread.ts, which also defines the messages.
import { setPriority } from "node:os";
import { parentPort } from "node:worker_threads";
import { errorFields } from "../threads";
import { createComposer, toCompose } from "./mail-compose";
import { MAIL_THREAD_NICE, type MailThreadReply, type MailThreadRequest } from "./mail-thread";
import { settlementPdf } from "./settlement-pdf";

const port = parentPort;
if (!port) throw new Error("mail-worker.ts runs only as a worker thread (mail-thread.ts starts it)");
// Mail can wait; the server's event loop cannot. On Linux a thread's nice value is its own (setpriority on the calling
// task), so this lowers only this thread: on a busy machine the loop's acks and pushes get the CPU first, and mail
// takes what is left (with nothing else to run it gets a whole core as before). Measured in docs/benchmarks.md.
// Elsewhere the call may apply to the whole process or be refused; it is made on Linux only, and a refusal is harmless.
if (process.platform === "linux")
  try {
    setPriority(MAIL_THREAD_NICE);
  } catch {
    // not permitted here (a sandbox): mail composes at the loop's priority, as before
  }
const compose = createComposer();

port.on("message", (req: MailThreadRequest) => {
  // Rendering throws synchronously on a bad notice: inside the promise, so it is answered as an error like the rest.
  Promise.resolve()
    .then(() =>
      "pdf" in req
        ? settlementPdf(req.pdf.summary, req.pdf.options)
        : compose("render" in req ? toCompose(req.render) : req.mail),
    )
    .then(
      (message) => {
        // The bytes move to the server's thread, not copied; a message in a shared pool's slice is copied out first.
        const owns = message.byteOffset === 0 && message.byteLength === message.buffer.byteLength;
        const bytes = owns ? message : new Uint8Array(message);
        const reply: MailThreadReply = { id: req.id, message: bytes };
        port.postMessage(reply, [bytes.buffer as ArrayBuffer]);
      },
      (err) => port.postMessage({ id: req.id, error: errorFields(err) } satisfies MailThreadReply),
    );
});
