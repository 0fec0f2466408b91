import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadOnce } from '../load-once.js';
import type { Logger } from '../log.js';

export interface OutgoingEmail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

export interface Mailer {
  /** False in production without SMTP: features that need email are off. */
  readonly available: boolean;
  send(email: OutgoingEmail): Promise<void>;
}

export interface MailerSettings {
  /** smtp:// or smtps:// URL; undefined: no SMTP. */
  readonly smtpUrl: string | undefined;
  readonly from: string;
  /** Where messages go as .eml files without SMTP (development). */
  readonly outboxDir: string;
  readonly production: boolean;
}

/**
 * Email over SMTP (nodemailer). Without SMTP, outside production, each message
 * is written as an .eml file to the outbox and the log says where, so a
 * newcomer can follow a reset link locally; in production without SMTP, email
 * is unavailable. nodemailer loads with the first message (GATEHOUSE_SMTP_URL
 * is checked at start by the configuration): most processes send none for a
 * long while, and it is ~3 MB of heap the collector would otherwise mark on
 * every full collection (docs/performance.md).
 */
export function createMailer(settings: MailerSettings, log: Logger): Mailer {
  if (settings.smtpUrl) {
    const smtpUrl = settings.smtpUrl;
    const transport = loadOnce(() => import('nodemailer').then(({ default: nodemailer }) => nodemailer.createTransport(smtpUrl)));
    return {
      available: true,
      async send(email) {
        await (await transport()).sendMail({ from: settings.from, ...email });
      },
    };
  }
  if (settings.production) {
    return {
      available: false,
      async send() {
        throw new Error('email is not configured (GATEHOUSE_SMTP_URL)');
      },
    };
  }
  const transport = loadOnce(() =>
    import('nodemailer').then(({ default: nodemailer }) =>
      nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' }),
    ),
  );
  const outbox = resolve(settings.outboxDir);
  return {
    available: true,
    async send(email) {
      const info = await (await transport()).sendMail({ from: settings.from, ...email });
      await mkdir(outbox, { recursive: true, mode: 0o700 });
      const file = join(outbox, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.eml`);
      await writeFile(file, info.message as Buffer, { mode: 0o600 });
      log.info(`no SMTP configured (GATEHOUSE_SMTP_URL): email "${email.subject}" written to ${file}`);
    },
  };
}
