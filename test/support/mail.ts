import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/**
 * A real SMTP server on loopback that keeps what it receives, parsed.
 * `refuseRecipient`: addresses it answers RCPT TO with 550 (a mail server refusing).
 */
export async function startMailServer(options: { refuseRecipient?: (address: string) => boolean } = {}) {
  const received: ParsedMail[] = [];
  const waiting: ((mail: ParsedMail) => void)[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth: (_auth, _session, callback) => callback(null, { user: 'gatehouse' }),
    onRcptTo(address, _session, callback) {
      if (options.refuseRecipient?.(address.address)) callback(new Error('550 mailbox unavailable'));
      else callback();
    },
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          const next = waiting.shift();
          if (next) next(mail);
          else received.push(mail);
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://gatehouse:mail-password@127.0.0.1:${port}`,
    /** The next message received (already received, or the next to arrive). */
    nextMessage(): Promise<ParsedMail> {
      const mail = received.shift();
      return mail ? Promise.resolve(mail) : new Promise((resolve) => waiting.push(resolve));
    },
    /** How many messages arrived that no one has read yet. */
    unread: () => received.length,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The first link in a message's text part that starts with `prefix`. */
export function linkIn(mail: ParsedMail, prefix: string): string {
  const link = (mail.text ?? '').split(/\s+/).find((word) => word.startsWith(prefix));
  if (!link) throw new Error(`no link to ${prefix} in:\n${mail.text}`);
  return link;
}

/** Whom a message was addressed to (its To header as text; '' when it has none). */
export function recipientOf(mail: ParsedMail): string {
  return mail.to && 'text' in mail.to ? mail.to.text : '';
}
