import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { createLogger, isPluginError, parseConfig, registerSecret, type CreateLoggerOptions } from '../src/index.js';

/** A logger writing into memory; lines() flushes and returns what was written. */
function capture(options: CreateLoggerOptions = {}) {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const logger = createLogger({ ...options, stream });
  return {
    logger,
    async lines(): Promise<string[]> {
      await logger.close();
      return Buffer.concat(chunks)
        .toString('utf8')
        .split('\n')
        .filter((l) => l !== '');
    },
  };
}

describe('createLogger', () => {
  test('text format: time, level, message, key=value', async () => {
    const { logger, lines } = capture({ format: 'text' });
    logger.info('request handled', { requestId: 'r-1', attempt: 2, ok: true, reason: 'two words', extra: undefined });
    const [line] = await lines();
    assert.match(line ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO request handled requestId=r-1 attempt=2 ok=true reason="two words"$/);
  });

  test('json format', async () => {
    const { logger, lines } = capture({ format: 'json' });
    logger.warn('slow handler', { adapter: 'slack', ms: 1200 });
    const entry = JSON.parse((await lines())[0] ?? '{}') as Record<string, unknown>;
    assert.equal(entry['level'], 'warn');
    assert.equal(entry['msg'], 'slow handler');
    assert.equal(entry['adapter'], 'slack');
    assert.equal(entry['ms'], 1200);
    assert.match(String(entry['time']), /^\d{4}-.*Z$/);
  });

  test('severity filters, trace is below debug, --debug forces debug', async () => {
    const info = capture({ severity: 'info' });
    info.logger.debug('hidden');
    info.logger.trace('hidden too');
    info.logger.info('shown');
    assert.deepEqual(
      (await info.lines()).map((l) => l.split(' ').slice(1).join(' ')),
      ['INFO shown'],
    );

    const forced = capture({ severity: 'error', debug: true });
    assert.equal(forced.logger.severity, 'debug');
    forced.logger.debug('now shown');
    forced.logger.trace('still hidden');
    assert.deepEqual(
      (await forced.lines()).map((l) => l.split(' ')[1]),
      ['DEBUG'],
    );

    const trace = capture({ severity: 'trace', debug: true });
    assert.equal(trace.logger.severity, 'trace', '--debug never lowers a finer severity');
    trace.logger.trace('finest');
    assert.deepEqual(
      (await trace.lines()).map((l) => l.split(' ')[1]),
      ['TRACE'],
    );
  });

  test('child loggers carry their fields', async () => {
    const { logger, lines } = capture();
    const slack = logger.child({ adapter: 'slack' });
    slack.child({ requestId: 'abc' }).error('post failed', { status: 500 });
    slack.info('ready');
    const out = await lines();
    assert.match(out[0] ?? '', / ERROR post failed adapter=slack requestId=abc status=500$/);
    assert.match(out[1] ?? '', / INFO ready adapter=slack$/);
  });

  test('errors in fields are logged by message; reserved names do not clobber the entry', async () => {
    const { logger, lines } = capture({ format: 'json' });
    logger.error('boom', { error: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), level: 'x', msg: 'y' });
    const entry = JSON.parse((await lines())[0] ?? '{}') as Record<string, unknown>;
    assert.deepEqual(entry['error'], { message: 'socket hang up', code: 'ECONNRESET' });
    assert.equal(entry['level'], 'error');
    assert.equal(entry['msg'], 'boom');
    assert.equal(entry['field.level'], 'x');
  });
});

describe('redaction', () => {
  test('registered secrets never reach the output, in messages or fields, text or json', async () => {
    const secret = 'xoxb-2222-super-secret';
    registerSecret(secret);
    for (const format of ['text', 'json'] as const) {
      const { logger, lines } = capture({ format, severity: 'trace' });
      logger.info(`calling slack with ${secret}`);
      logger.warn('vendor said', { body: `{"error":"invalid_auth","token":"${secret}"}`, nested: { deep: [secret] } });
      logger.child({ header: `Bearer ${secret}` }).trace('request');
      const out = (await lines()).join('\n');
      assert.ok(!out.includes(secret), `${format}: ${out}`);
      assert.equal(out.split('[redacted]').length - 1, 4, out);
    }
  });

  test('values under secret-looking keys are hidden even when not registered', async () => {
    const { logger, lines } = capture();
    logger.info('config', { token: 'abc123', api_key: 'k-1', password: 'pw', smtp: { password: 'pw2' }, token_file: '/run/secrets/token', user: 'bob' });
    const [line] = await lines();
    assert.equal(
      line?.replace(/^\S+ /, ''),
      'INFO config token=[redacted] api_key=[redacted] password=[redacted] smtp={"password":"[redacted]"} token_file=/run/secrets/token user=bob',
    );
  });

  test('secrets read by the config are redacted in a log file', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tp-log-'));
    try {
      const tokenFile = path.join(dir, 'token');
      await fs.writeFile(tokenFile, 'pd-key-from-file-77\n');
      const logFile = path.join(dir, 'plugin.log');
      const cfg = parseConfig(
        `[teleport]\nidentity = "/i"\n[log]\noutput = "${logFile}"\nseverity = "debug"\n[pagerduty]\napi_key = "${tokenFile}"\n[x]\nkey = "env:X_SECRET"\n`,
        'plugin.toml',
        { env: { X_SECRET: 'env-secret-value-9' } },
      );
      const apiKey = cfg.section('pagerduty').secret('api_key');
      const envKey = cfg.section('x').secret('key');
      const logger = createLogger(cfg.log);
      logger.debug('using', { header: `Token token=${apiKey}`, other: envKey });
      logger.error(`request to https://api/?key=${envKey} failed`);
      await logger.close();
      const text = await fs.readFile(logFile, 'utf8');
      assert.equal(text.trim().split('\n').length, 2);
      assert.ok(!text.includes('pd-key-from-file-77') && !text.includes('env-secret-value-9'), text);
      assert.match(text, /header="Token token=\[redacted\]" other=\[redacted\]/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  test('an unwritable log file is a config error', () => {
    assert.throws(
      () => createLogger({ output: '/nonexistent-dir/plugin.log' }),
      (err: unknown) => isPluginError(err, 'CONFIG') && /^\[log\] output: cannot open log file \/nonexistent-dir\/plugin\.log: /.test(err.message),
    );
  });
});
