import { PluginError, defineAdapter, errorMessage, ticketHandlers } from '@teleport-plugin/core';
import type { AdapterContext, AdapterHandlers } from '@teleport-plugin/core';
import { checkPagerDuty } from './check.js';
import { PagerDutyClient, pagerDutyStatus } from './client.js';
import type { PagerDutyClientOptions } from './client.js';
import { exampleConfig, parsePagerDutyConfig } from './config.js';
import type { PagerDutyConfig } from './config.js';
import { pagerDutyDemo } from './demo.js';
import { approveIfOnCall } from './onCallApproval.js';
import { pagerDutyPluginData } from './pluginData.js';
import { PagerDutyTracker } from './tracker.js';
import { onCallFacts } from './onCallFacts.js';

export const ADAPTER_NAME = 'pagerduty';

/** Client tuning for tests (timeouts and the outbound policy); production uses the defaults. */
export type ClientTuning = Omit<PagerDutyClientOptions, 'apiEndpoint' | 'apiKey' | 'userEmail' | 'logger'>;

/**
 * Builds the handlers: the ticketing kit on PagerDuty (one incident per request on the service
 * the notify annotation names, notes for reviews, a closing note and `resolved`), and, after the
 * incident, on-call auto-approval.
 */
export function createPagerDutyHandlers(ctx: AdapterContext<PagerDutyConfig>, tuning: ClientTuning = {}): AdapterHandlers {
  const config = ctx.config;
  const client = new PagerDutyClient({ ...tuning, apiEndpoint: config.apiEndpoint, apiKey: config.apiKey, userEmail: config.userEmail, logger: ctx.logger });
  const tracker = new PagerDutyTracker(client, config, ctx.cluster, ctx.routing && { routing: ctx.routing, logger: ctx.logger });
  // On-call facts for automatic-review rules (`user.traits["pagerduty.on_call"]`...).
  ctx.routing?.provideFacts(onCallFacts(client));
  const delivery = ticketHandlers(ctx as AdapterContext<unknown>, tracker, {
    async afterOpen(request, _ticket, ev) {
      // Only a pending request can be approved; the announcement of one that was resolved in the
      // meantime (a restart, a gap) still opens the incident, but reviews nothing.
      if (request.state !== 'PENDING') return;
      await approveIfOnCall(
        request,
        { client, teleport: ctx.teleport, servicesAnnotation: config.annotations.services, maxEscalationLevel: config.onCallMaxEscalationLevel, services: tracker },
        ev.logger,
        ev.signal,
      );
    },
  });
  return {
    ...delivery,
    check: (signal) => checkPagerDuty(client, config, signal, ctx.teleport),
  };
}

export const pagerDutyAdapter = defineAdapter<PagerDutyConfig>({
  name: ADAPTER_NAME,
  version: '0.1.0',
  parseConfig: (section) => parsePagerDutyConfig(section),
  async setup(ctx) {
    // Upstream's start-up health check: a rejected API key is fatal, in plain words, rather
    // than the first incident failing later.
    const { config } = ctx;
    const probe = new PagerDutyClient({ apiEndpoint: config.apiEndpoint, apiKey: config.apiKey, userEmail: config.userEmail, logger: ctx.logger });
    try {
      await probe.abilities(ctx.signal);
    } catch (err) {
      const status = pagerDutyStatus(err);
      if (status === 401 || status === 403) {
        throw new PluginError('CONFIG', `PagerDuty at ${probe.endpoint} rejected [pagerduty] api_key (HTTP ${status})`, { cause: err, userFacing: true });
      }
      throw new PluginError('UNREACHABLE', `cannot check the PagerDuty API key at ${probe.endpoint} ([pagerduty] api_endpoint): ${errorMessage(err)}`, {
        cause: err,
        userFacing: true,
      });
    }
    return createPagerDutyHandlers(ctx);
  },
  exampleConfig,
  pluginData: pagerDutyPluginData,
  demo: pagerDutyDemo,
});
