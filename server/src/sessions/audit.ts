// The audit export: the viewer's role's stream, as stored, with the server's signed head. Nothing is decrypted to
// build it, so a damaged row is exported and reported rather than failing the request.
import { sealedFields, type Viewer } from "@backchannel/common";
import { buildAuditExport } from "../store/audit";
import type { HeadSigner } from "../store/signing";
import type { SessionService } from "./service";

export async function buildSessionAudit(
  sessions: SessionService,
  signer: HeadSigner,
  sessionId: string,
  viewer: Viewer,
) {
  const rows = await sessions.readStoredStream(sessionId, viewer.role);
  return buildAuditExport({
    sessionId,
    stream: viewer.role,
    rows,
    sealed: sealedFields,
    sign: (h) => signer.sign(h),
    publicKey: { keyId: signer.keyId, pem: signer.publicKeyPem },
  });
}
