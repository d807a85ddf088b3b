import type { CheckItem } from '@teleport-plugin/core';
import type { Mailer } from './client.js';
import type { EmailConfig } from './config.js';

/** `teleport-plugin check`: SMTP connect, STARTTLS per policy and login, or Mailgun's domain and key. */
export async function checkEmail(mailer: Mailer, config: EmailConfig, signal: AbortSignal): Promise<CheckItem[]> {
  const items = await mailer.verify(signal);
  const recipients = new Set(Object.values(config.roleToRecipients).flat());
  items.push({
    name: 'email recipients',
    ok: true,
    detail: `${recipients.size} address${recipients.size === 1 ? '' : 'es'} in role_to_recipients, mails from ${config.sender}`,
  });
  return items;
}
