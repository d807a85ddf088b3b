// @teleport-plugin/email/testing: a real SMTP server (smtp-server + mailparser, optional peer
// dependencies loaded on first use) and a real-HTTP fake Mailgun, for this adapter's tests and
// for anyone testing against the same services.
export { startSmtpServer, TestSmtpServer } from './smtpServer.js';
export type { ReceivedMail, SmtpFault, SmtpServerEvent, SmtpServerOptions } from './smtpServer.js';
export { FakeMailgun } from './fakeMailgun.js';
export type { FakeMailgunDomain, FakeMailgunMessage, FakeMailgunOptions, MailgunRegion } from './fakeMailgun.js';
