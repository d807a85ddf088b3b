// @teleport-plugin/pagerduty/testing: a real-HTTP fake of the PagerDuty REST API v2 for tests.
export { FakePagerDuty } from './fakePagerDuty.js';
export type { FakePagerDutyOptions, FakePdService, FakePdEscalationPolicy, FakePdUser, FakePdOnCall, FakePdIncident, FakePdNote } from './fakePagerDuty.js';
