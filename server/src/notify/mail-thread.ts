// Mail composition in a worker thread of its own (mail-worker.ts). Laying out a deal's settlement PDF and encoding a
// MIME message are synchronous: on the event loop they held it for several milliseconds per deal (the PDF ~2 ms, the
// MIME encoding more, per docs/benchmarks.md's deal-notice profile), and the next deal's pushes waited behind them.
// Here the server's thread only posts the notice and the session (or a rendered mail's fields) and receives the
// bytes. The thread starts with the first mail (a node that sends none never pays for it), is let go of while idle (it
// keeps no process alive), and is started afresh by the next mail if it ever stops: the mails in flight then fail, and
// their triggers retry.
import { Worker } from "node:worker_threads";
import type { SettlementSummary } from "@backchannel/common";
import { type ErrorFields, threadEntry, toError } from "../threads";
import type { Compose, MailToCompose, MailToRender } from "./mail-compose";
import type { SettlementPdfOptions } from "./settlement-pdf";

/** The mail thread's nice value (Linux; 0 is the loop's): mail composes on whatever CPU the loop leaves. */
export const MAIL_THREAD_NICE = 10;

/** A settlement summary to lay out as a PDF (a download's: see MailThread.pdf). */
export interface PdfToLayOut {
  summary: SettlementSummary;
  options: SettlementPdfOptions;
}

export type MailThreadRequest =
  | { id: number; mail: MailToCompose }
  | { id: number; render: MailToRender }
  | { id: number; pdf: PdfToLayOut };
export type MailThreadReply = { id: number; message: Uint8Array } | { id: number; error: ErrorFields };

export interface MailThread {
  compose: Compose;
  /** renders a notice's mail (mail-templates.ts) and composes it, both in the thread */
  render(mail: MailToRender): Promise<Buffer>;
  /**
   * Lays out a settlement summary as a PDF, in the thread: a download's, so that the largest terms (tens of
   * milliseconds of layout) never hold the event loop.
   */
  pdf(summary: SettlementSummary, options: SettlementPdfOptions): Promise<Buffer>;
  close(): Promise<void>;
}

export function openMailThread(): MailThread {
  let worker: Worker | null = null;
  const waiting = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>();
  let next = 1;

  const start = (): Worker => {
    const { url, entry } = threadEntry(import.meta.url, "mail-worker");
    const w = new Worker(url, { workerData: entry ? { entry } : {} });
    w.on("message", (r: MailThreadReply) => {
      const p = waiting.get(r.id);
      if (!p) return;
      waiting.delete(r.id);
      if (waiting.size === 0) w.unref();
      if ("error" in r) p.reject(toError(r.error));
      else p.resolve(Buffer.from(r.message.buffer, r.message.byteOffset, r.message.byteLength));
    });
    let failure: Error | null = null;
    w.on("error", (err) => {
      failure ??= err;
    });
    w.on("exit", (code) => {
      if (worker === w) worker = null;
      const err = failure ?? new Error(`the mail thread stopped (exit code ${code})`);
      for (const p of waiting.values()) p.reject(err);
      waiting.clear();
    });
    return w;
  };

  const ask = (
    request: { mail: MailToCompose } | { render: MailToRender } | { pdf: PdfToLayOut },
  ): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      worker ??= start();
      const id = next++;
      if (waiting.size === 0) worker.ref();
      waiting.set(id, { resolve, reject });
      worker.postMessage({ id, ...request } satisfies MailThreadRequest);
    });

  return {
    compose: (mail) => ask({ mail }),
    render: (mail) => ask({ render: mail }),
    pdf: (summary, options) => ask({ pdf: { summary, options } }),
    async close() {
      const w = worker;
      worker = null;
      if (w) await w.terminate();
    },
  };
}
