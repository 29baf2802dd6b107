// A real SMTP peer for tests (smtp-server on 127.0.0.1, a free port): it keeps every message it receives, raw and
// parsed (mailparser), with its envelope, so tests can judge mail exactly as a recipient's server gets it.
import type { AddressInfo } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  raw: string;
  /** MAIL FROM */
  from: string;
  /** RCPT TO: who the message was really sent to, whatever its headers say */
  rcpt: string[];
  parsed: ParsedMail;
}

export interface SmtpPeer {
  port: number;
  url: string;
  received: ReceivedMail[];
  close(): Promise<void>;
}

export async function startSmtpPeer(): Promise<SmtpPeer> {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks);
        simpleParser(raw).then(
          (parsed) => {
            received.push({
              raw: raw.toString("utf8"),
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
              rcpt: session.envelope.rcptTo.map((a) => a.address),
              parsed,
            });
            callback();
          },
          (error: Error) => callback(error),
        );
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Everything a reader could see of a mail: the raw message, the decoded parts and the attachments. */
export function everythingIn(m: ReceivedMail): string {
  const attachments = m.parsed.attachments.map((a) => a.content.toString("utf8")).join("\n");
  return [m.raw, m.parsed.subject ?? "", m.parsed.text ?? "", m.parsed.html || "", attachments].join("\n");
}
