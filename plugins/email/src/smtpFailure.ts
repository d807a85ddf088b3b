import { PluginError, errorMessage } from '@teleport-plugin/core';
import type { ErrorCode, OutboundCall } from '@teleport-plugin/core';
import type { StartTlsPolicy } from './config.js';

/**
 * Where an SMTP attempt was when it failed. Everything up to `envelope` (MAIL FROM, RCPT TO, the
 * DATA command) happens before the message exists on the server: a failure there certainly sent
 * nothing. `data` is the message being streamed (no final dot yet: still nothing). Once the
 * message has been handed over (`sent`), a lost connection leaves the outcome unknown: the server
 * may have queued it and lost only its 250.
 */
export type SmtpPhase = 'connect' | 'starttls' | 'auth' | 'envelope' | 'data' | 'sent';

export interface SmtpFailureContext {
  host: string;
  port: number;
  username: string;
  startTlsPolicy: StartTlsPolicy;
  phase: SmtpPhase;
  /** The recipient of the mail being sent. */
  recipient?: string | undefined;
  /** The envelope sender of the mail being sent. */
  sender?: string | undefined;
}

/** What nodemailer attaches to its errors (NodemailerError), read defensively. */
interface SmtpErrorShape {
  code?: string;
  originalCode?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  permanent?: boolean;
  message?: string;
}

const CERT_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EDNS']);

/**
 * A nodemailer error as a PluginError with service facts. SMTP reply codes go to `serviceCode`
 * (`550 5.1.1`); `status` stays for HTTP. The rules:
 * - 4xx reply: transient, retryable, nothing was accepted;
 * - 5xx reply to RCPT TO or to the message: permanent for that recipient (`recipientRefused`);
 * - 5xx to AUTH, MAIL FROM or STARTTLS: a configuration problem, in plain words naming the key;
 * - no reply (refused, reset, timeout): retryable; outcome unknown only once the message was sent.
 * `details.explanation` holds the plain-words part, for `check`. No credential is ever quoted.
 */
export function smtpFailure(err: unknown, call: OutboundCall, ctx: SmtpFailureContext): PluginError {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SmtpErrorShape;
  const where = `${ctx.host}:${ctx.port}`;
  const reply = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const replyText = oneLine(e.response ?? '');
  const serviceCode = reply === undefined ? undefined : enhancedCode(reply, replyText);
  const said = replyText ? ` (${replyText})` : '';

  const make = (
    code: ErrorCode,
    explanation: string,
    facts: { retryable: boolean; outcomeUnknown?: boolean; affectsEveryCall?: boolean },
    extra: Record<string, unknown> = {},
    userFacing = false,
  ): PluginError =>
    new PluginError(code, `${call.service} ${call.operation}: ${explanation}`, {
      cause: err,
      userFacing,
      details: { explanation, phase: ctx.phase, ...(ctx.recipient ? { recipient: ctx.recipient } : {}), ...extra },
      service: {
        service: call.service,
        operation: call.operation,
        serviceCode,
        retryable: facts.retryable,
        outcomeUnknown: facts.outcomeUnknown ?? false,
        ...(facts.affectsEveryCall ? { affectsEveryCall: true } : {}),
      },
    });

  const sysCode = e.originalCode ?? e.code;
  if ((sysCode && CERT_CODES.has(sysCode)) || /certificate/i.test(e.message ?? '')) {
    return make(
      'CERT_REFUSED',
      `the TLS certificate of ${where} is not trusted (${sysCode ?? oneLine(errorMessage(err))}): check smtp.host, or add the server's CA with NODE_EXTRA_CA_CERTS`,
      { retryable: false, affectsEveryCall: true },
      {},
      true,
    );
  }

  if (e.code === 'ETLS' && reply !== undefined) {
    if (reply >= 400 && reply < 500) return make('CONNECTION_PROBLEM', `${where} cannot start TLS right now${said}`, { retryable: true });
    return make(
      'CONNECTION_PROBLEM',
      `${where} does not offer STARTTLS${said} and smtp.starttls_policy is "${ctx.startTlsPolicy}": use a server or port that offers it (465 for TLS from the start), or set smtp.starttls_policy = "opportunistic" to send unencrypted`,
      { retryable: false, affectsEveryCall: true },
      {},
      true,
    );
  }

  if (e.code === 'EAUTH' || e.code === 'ENOAUTH' || ctx.phase === 'auth') {
    if (reply !== undefined && reply >= 400 && reply < 500) {
      return make('CONNECTION_PROBLEM', `${where} could not check the login right now${said}`, { retryable: true });
    }
    if (reply === 538 || /starttls/i.test(replyText)) {
      return make(
        'ACCESS_DENIED',
        `${where} accepts the login only over TLS${said}: set smtp.starttls_policy to "mandatory" or "opportunistic"`,
        { retryable: false, affectsEveryCall: true },
        {},
        true,
      );
    }
    if (e.code === 'EAUTH' || e.code === 'ENOAUTH') {
      return make(
        'ACCESS_DENIED',
        `${where} refused the login for user "${ctx.username}"${said}: check smtp.username and smtp.password (or smtp.password_file)`,
        { retryable: false, affectsEveryCall: true },
        {},
        true,
      );
    }
  }

  if (reply !== undefined && (e.code === 'EENVELOPE' || e.code === 'EMESSAGE' || e.command === 'MAIL FROM' || e.command === 'RCPT TO' || e.command === 'DATA')) {
    const transient = reply >= 400 && reply < 500;
    if (e.command === 'MAIL FROM') {
      if (transient) return make('SERVICE_ERROR', `${where} deferred the sender ${ctx.sender ?? ''}${said}`, { retryable: true });
      if (reply === 530) {
        return make(
          'ACCESS_DENIED',
          `${where} accepts mail only after login${said}, and it offered no login on this connection: check smtp.starttls_policy (many servers offer AUTH only after STARTTLS)`,
          { retryable: false },
          {},
          true,
        );
      }
      return make(
        'SERVICE_ERROR',
        `${where} refused the sender ${ctx.sender ?? ''}${said}: check delivery.sender (servers often accept only the addresses of smtp.username)`,
        { retryable: false },
        {},
        true,
      );
    }
    if (transient) {
      return make('SERVICE_ERROR', `${where} deferred the mail to ${ctx.recipient ?? 'the recipient'}${said}; it was not accepted and can be sent again`, { retryable: true });
    }
    // One recipient per mail: a permanent refusal of the recipient or of the message is final
    // for this recipient only.
    const what = e.command === 'RCPT TO' || e.code === 'EENVELOPE' ? 'refused the recipient' : 'refused the mail to';
    return make('SERVICE_ERROR', `${where} ${what} ${ctx.recipient ?? ''}${said}`, { retryable: false }, { recipientRefused: true });
  }

  // No usable reply: the connection failed, timed out or the server said something unexpected.
  const timedOut = e.code === 'ETIMEDOUT' || sysCode === 'ETIMEDOUT';
  const unreachable = sysCode !== undefined && UNREACHABLE_CODES.has(sysCode);
  const what = unreachable
    ? `cannot connect to ${where} (${sysCode}): check smtp.host and smtp.port`
    : timedOut
      ? `no answer from ${where} in time`
      : `connection to ${where} failed: ${oneLine(errorMessage(err))}`;
  if (ctx.phase === 'sent') {
    return make(timedOut ? 'TIMEOUT' : 'CONNECTION_PROBLEM', `${what} after the mail to ${ctx.recipient ?? 'the recipient'} was handed over: it may have been accepted`, {
      retryable: true,
      outcomeUnknown: true,
    });
  }
  return make(timedOut ? 'TIMEOUT' : unreachable ? 'UNREACHABLE' : 'CONNECTION_PROBLEM', what, { retryable: true });
}

/** `550 5.1.1` when the reply carries an enhanced status code, else `550`. */
function enhancedCode(reply: number, text: string): string {
  const m = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(text);
  return m ? `${reply} ${m[1]}` : String(reply);
}

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 197)}...` : flat;
}
