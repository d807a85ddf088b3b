import type { WebhookResponse } from '../adapter.js';
import { errorMessage } from '../errors.js';
import { formatExplanation, type Explanation } from './explain.js';

/** Request ids are UUIDs; anything else in the path is refused before Teleport is asked. */
const REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * `GET /debug/requests/<id>`: the explanation of one request, as JSON (default) or plain text
 * (`?format=text`, the CLI's output). The HTTP server serves `/debug/` only behind `[http]
 * basic_auth`: without it the path does not exist (404), since the answer names people, rules
 * and facts.
 */
export function debugRoute(explain: (requestId: string, signal?: AbortSignal) => Promise<Explanation>) {
  return async (path: string, query: URLSearchParams): Promise<WebhookResponse | undefined> => {
    const m = /^\/debug\/requests\/([^/]+)\/?$/.exec(path);
    if (!m) return undefined;
    const id = decodeURIComponent(m[1]!);
    if (!REQUEST_ID.test(id)) return { status: 400, body: { error: 'not a request id' } };
    try {
      const explanation = await explain(id, AbortSignal.timeout(30_000));
      if (query.get('format') === 'text') return { status: 200, body: formatExplanation(explanation) };
      return { status: 200, body: explanation };
    } catch (err) {
      return { status: 502, body: { error: `could not explain request ${id}: ${errorMessage(err)}` } };
    }
  };
}
