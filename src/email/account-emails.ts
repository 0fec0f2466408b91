import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Mustache from 'mustache';
import type { Mailer } from './mailer.js';

const viewsDir = fileURLToPath(new URL('../../views/', import.meta.url));

type EmailName = 'password-reset' | 'verify-email';

export interface Recipient {
  readonly email: string;
  readonly name: string | null;
}

/**
 * The emails Gatehouse sends about an account, in plain text and HTML, named
 * after the issuer's host (templates in views/email-*.txt|html).
 */
export function createAccountEmails(mailer: Mailer, issuer: string) {
  const site = new URL(issuer).host;
  const templates = new Map<EmailName, { text: string; html: string }>(
    (['password-reset', 'verify-email'] as const).map((name) => [
      name,
      { text: readFileSync(`${viewsDir}email-${name}.txt`, 'utf8'), html: readFileSync(`${viewsDir}email-${name}.html`, 'utf8') },
    ]),
  );
  const send = async (name: EmailName, to: Recipient, subject: string, view: Record<string, unknown>) => {
    const template = templates.get(name);
    if (!template) throw new Error(`no email template ${name}`);
    const data = { ...view, site, email: to.email, name: to.name };
    await mailer.send({ to: to.email, subject, text: Mustache.render(template.text, data), html: Mustache.render(template.html, data) });
  };
  return {
    available: mailer.available,
    passwordReset: (to: Recipient, link: string, ttlSeconds: number) =>
      send('password-reset', to, `Reset your ${site} password`, { link, minutes: Math.round(ttlSeconds / 60) }),
    verifyEmail: (to: Recipient, link: string, ttlSeconds: number) =>
      send('verify-email', to, `Confirm your email address for ${site}`, { link, hours: Math.round(ttlSeconds / 3600) }),
  };
}

export type AccountEmails = ReturnType<typeof createAccountEmails>;
