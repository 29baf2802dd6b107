// The audit export: the viewer's role's stream, as stored, with the server's signed head. Nothing is decrypted to
// build it, so a damaged row is exported and reported rather than failing the request.
import { sealedFields, type Viewer } from "@backchannel/common";
import { buildAuditExport } from "../store/audit";
import type { HeadSigner } from "../store/signing";
import type { SessionReads } from "./reads";

export async function buildSessionAudit(
  reads: SessionReads,
  signer: HeadSigner,
  sessionId: string,
  viewer: Viewer,
) {
  const rows = await reads.readStoredStream(sessionId, viewer.role);
  return buildAuditExport({
    sessionId,
    stream: viewer.role,
    rows,
    sealed: sealedFields,
    sign: (h) => signer.sign(h),
    publicKey: { keyId: signer.keyId, pem: signer.publicKeyPem },
  });
}
