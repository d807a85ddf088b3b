// Public entry of @teleport-plugin/pagerduty. The default export is the adapter.
import { pagerDutyAdapter } from './adapter.js';

export default pagerDutyAdapter;
export { pagerDutyAdapter, createPagerDutyHandlers, ADAPTER_NAME } from './adapter.js';
export type { ClientTuning } from './adapter.js';
export { checkPagerDuty } from './check.js';
export { parsePagerDutyConfig, exampleConfig, DEFAULT_API_ENDPOINT, DEFAULT_NOTIFY_SERVICE_ANNOTATION, DEFAULT_SERVICES_ANNOTATION } from './config.js';
export type { PagerDutyConfig } from './config.js';
export { PagerDutyClient, pagerDutyStatus, pagerDutyErrors } from './client.js';
export { PagerDutyTracker } from './tracker.js';
export type { PagerDutyClientOptions, PdService, PdUser, PdOnCall, PdIncident, NewIncident } from './client.js';
export { approveIfOnCall } from './onCallApproval.js';
export { onCallFacts, FACT_ON_CALL, FACT_ON_CALL_TIER, FACT_ON_CALL_SERVICES } from './onCallFacts.js';
export type { OnCallApprovalOptions, OnCallOutcome } from './onCallApproval.js';
export { pagerDutySnapshot, pagerDutyPluginData, INCIDENT_ID_KEY, SERVICE_ID_KEY } from './pluginData.js';
export { pagerDutyDemo, DEMO_API_KEY, DEMO_BOT_EMAIL, DEMO_SERVICE, DEMO_REQUESTER } from './demo.js';
export * from './render.js';
