import type { PluginError } from '../errors.js';
import type { OutboundCall } from './policy.js';
import { retryAfterMs } from './retryAfter.js';
import { httpFailure } from './serviceFailure.js';

/**
 * A non-2xx fetch Response as a PluginError with facts. `serviceCode` picks the service's own
 * error code out of the body text when the caller knows where it lives.
 */
export function fetchFailure(call: OutboundCall, response: Response, bodyText: string, serviceCode?: (body: string) => string | undefined): PluginError {
  return httpFailure(call, {
    status: response.status,
    serviceCode: serviceCode?.(bodyText),
    detail: serviceCode ? undefined : bodyText.trim().slice(0, 200) || undefined,
    retryAfterMs: retryAfterMs(response.headers),
    userFacing: response.status === 401,
  });
}
