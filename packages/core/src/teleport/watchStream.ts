import type { ClientReadableStream } from '@grpc/grpc-js';
import { PluginError } from '../errors.js';
import { fromGrpcError } from './grpcError.js';
import { toWatchEvent } from './mapping.js';
import type { WatchEvent, WatchStream } from './types.js';
import type { WireEvent } from './wire.js';

/** Pause reading from the server when the consumer is this far behind. */
const HIGH_WATER = 256;

/**
 * Adapts a WatchEvents server stream to an async iterable. The watch has no resume token, so
 * ANY end of the stream other than our own close() is a connection problem the caller must react
 * to (re-watch, then re-list after INIT): a clean EOF throws CONNECTION_PROBLEM too.
 */
export class GrpcWatchStream implements WatchStream {
  private readonly queue: WatchEvent[] = [];
  private failure: PluginError | undefined;
  private closed = false;
  private ended = false;
  private wake: (() => void) | undefined;
  private iterating = false;

  constructor(
    private readonly call: ClientReadableStream<WireEvent>,
    private readonly explainUnavailable: () => PluginError | undefined,
    private readonly onFinished: () => void,
    signal?: AbortSignal,
  ) {
    call.on('data', (wire: WireEvent) => {
      const event = toWatchEvent(wire);
      if (!event) return;
      this.queue.push(event);
      if (this.queue.length >= HIGH_WATER) call.pause();
      this.notify();
    });
    call.on('error', (err: Error) => {
      if (this.closed) return this.finish();
      this.finish(fromGrpcError(err, 'WatchEvents', this.explainUnavailable()));
    });
    call.on('end', () => {
      this.finish(this.closed ? undefined : new PluginError('CONNECTION_PROBLEM', 'WatchEvents: the event stream ended'));
    });
    if (signal) {
      if (signal.aborted) this.close();
      else signal.addEventListener('abort', () => this.close(), { once: true });
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.call.cancel();
    this.finish();
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    if (this.iterating) throw new Error('a WatchStream can be iterated only once');
    this.iterating = true;
    return {
      next: async (): Promise<IteratorResult<WatchEvent>> => {
        for (;;) {
          if (this.closed) return { value: undefined, done: true };
          const event = this.queue.shift();
          if (event) {
            if (this.queue.length < HIGH_WATER / 2 && !this.ended) this.call.resume();
            return { value: event, done: false };
          }
          if (this.failure) throw this.failure;
          if (this.ended) return { value: undefined, done: true };
          await new Promise<void>((resolve) => {
            this.wake = resolve;
          });
        }
      },
      return: async (): Promise<IteratorResult<WatchEvent>> => {
        this.close();
        return { value: undefined, done: true };
      },
    };
  }

  private finish(failure?: PluginError): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.closed) this.failure = failure;
    this.onFinished();
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
