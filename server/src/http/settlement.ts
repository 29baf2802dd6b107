// The settlement summary as a PDF download (docs/protocol.md section 3): GET /api/sessions/:id/settlement.pdf, for a
// member of the session once a deal exists. It renders common's settlementSummary of the member's own view (nothing
// but the deal, title, members, terms and rules: never a side's number), with the signed head of the member's role's
// stream at the time of the download. app.ts mounts it under /api after the sign-in middleware.
import { errors, refusal, type SettlementSummary, settlementSummary, type Viewer } from "@backchannel/common";
import express, { type Request } from "express";
import { AppError } from "../errors";
import { type SettlementPdfOptions, settlementFileName, settlementPdf } from "../notify/settlement-pdf";
import type { SignedHead } from "../store/signing";

export interface SettlementRouteDeps {
  reads: {
    /** SESSION_NOT_FOUND for a non-member, as for a session that does not exist */
    memberOf(sessionId: string, userId: string): Promise<Viewer>;
    viewFor(
      sessionId: string,
      viewer: Viewer,
    ): Promise<{ view: Parameters<typeof settlementSummary>[0]; head: SignedHead }>;
  };
  now?: () => number;
  /** lays out the PDF: in the mail thread on a server (MailChannel.settlementPdf), here when not given */
  layOut?: (summary: SettlementSummary, options: SettlementPdfOptions) => Promise<Uint8Array>;
}

type AuthedRequest = Request & { user?: { id: string } };

export const NO_DEAL_YET_MESSAGE =
  "There is no settlement summary yet: it exists once the session has reached a deal.";

export function settlementRoutes(deps: SettlementRouteDeps): express.Router {
  const now = deps.now ?? Date.now;
  const layOut = deps.layOut ?? settlementPdf;
  const router = express.Router();

  // ?size=letter for US Letter; A4 otherwise.
  router.get("/sessions/:id/settlement.pdf", async (req: AuthedRequest, res) => {
    if (!req.user) throw new AppError(errors.unauthenticated());
    const sessionId = String(req.params.id);
    const viewer = await deps.reads.memberOf(sessionId, req.user.id);
    const { view, head } = await deps.reads.viewFor(sessionId, viewer);
    const summary = settlementSummary(view, head);
    if (!summary) throw new AppError(refusal("WRONG_STEP", NO_DEAL_YET_MESSAGE));
    const pdf = await layOut(summary, {
      now: now(),
      pageSize: req.query.size === "letter" ? "Letter" : "A4",
    });
    const filename = settlementFileName(summary.title);
    res.setHeader("Content-Type", "application/pdf");
    res.setHeader(
      "Content-Disposition",
      `attachment; filename="${filename}"; filename*=UTF-8''${encodeURIComponent(filename)}`,
    );
    res.setHeader("Cache-Control", "private, no-store");
    res.setHeader("Content-Length", String(pdf.byteLength));
    res.end(Buffer.from(pdf));
  });

  return router;
}
