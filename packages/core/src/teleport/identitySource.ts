import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { TeleportConnectionConfig } from './types.js';
import { assertIdentityValid, loadIdentity, type Identity } from './identity.js';

/**
 * Holds the identity every NEW TLS dial uses. With refresh_identity on it re-reads the file(s)
 * on an interval (tbot rewrites them every ~20 min); a valid new identity replaces the current
 * one, an unreadable, invalid or expired replacement is logged and the current one is kept (a
 * half-written file must not take the plugin down). Established connections keep the
 * certificate they were opened with; the client reconnects on change (see client.ts).
 */
export class IdentitySource {
  private identity: Identity;
  private lastStamp: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<boolean> = Promise.resolve(false);
  private pending = 0;
  private warnedExpired = false;
  private readonly listeners = new Set<(identity: Identity) => void>();

  constructor(
    private readonly config: TeleportConnectionConfig,
    private readonly logger: Logger,
    initial: Identity,
  ) {
    this.identity = initial;
  }

  current(): Identity {
    return this.identity;
  }

  onChange(listener: (identity: Identity) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts the refresh timer when `refreshIdentity` is on. */
  async start(): Promise<void> {
    if (!this.config.refreshIdentity) return;
    this.lastStamp = await this.stamp().catch(() => undefined);
    const interval = Math.max(10, this.config.refreshIdentityIntervalMs ?? 60_000);
    this.timer = setInterval(() => this.tick(), interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Looks at the file(s) now; resolves true when a new identity was taken. Checks run one after
   * another, so a caller always gets a read that started after its call.
   */
  checkNow(): Promise<boolean> {
    const run = this.queue.then(() => this.check());
    this.queue = run.catch(() => false);
    this.pending++;
    return run.finally(() => {
      this.pending--;
    });
  }

  private tick(): void {
    // A slow disk must not pile up timer checks.
    if (this.pending === 0) void this.checkNow().catch(() => undefined);
  }

  private async check(): Promise<boolean> {
    let stamp: string;
    try {
      stamp = await this.stamp();
    } catch (err) {
      this.logger.warn('Cannot look at the identity file; keeping the current identity', { error: errorMessage(err) });
      return false;
    }
    if (stamp === this.lastStamp) {
      this.warnIfExpired();
      return false;
    }
    let next: Identity;
    try {
      next = await loadIdentity(this.config);
      assertIdentityValid(next);
    } catch (err) {
      // Remember this content so one bad file is reported once, not on every tick.
      this.lastStamp = stamp;
      this.logger.warn('Ignoring the new identity; keeping the current one', { error: errorMessage(err) });
      return false;
    }
    this.lastStamp = stamp;
    if (next.fingerprint === this.identity.fingerprint) return false;
    const previous = this.identity;
    this.identity = next;
    this.warnedExpired = false;
    this.logger.info('Loaded a renewed Teleport identity', {
      file: next.source,
      user: next.username,
      previousUser: previous.username === next.username ? undefined : previous.username,
      validUntil: next.notAfter.toISOString(),
    });
    for (const listener of this.listeners) listener(next);
    return true;
  }

  private warnIfExpired(): void {
    if (this.warnedExpired || Date.now() <= this.identity.notAfter.getTime()) return;
    this.warnedExpired = true;
    this.logger.warn('The Teleport identity has expired and no renewed one was found', {
      file: this.identity.source,
      expiredAt: this.identity.notAfter.toISOString(),
    });
  }

  /**
   * A hash of the credential files' content. The files are a few KB, and comparing content
   * (not mtime) also catches rewrites within the same timestamp tick.
   */
  private async stamp(): Promise<string> {
    const files = this.config.identityFile ? [this.config.identityFile] : [this.config.clientKey, this.config.clientCrt, this.config.rootCas].filter((f): f is string => !!f);
    const hash = createHash('sha256');
    for (const f of files)
      hash
        .update(f)
        .update('\0')
        .update(await readFile(f))
        .update('\0');
    return hash.digest('hex');
  }
}
