// The one place the soak harness imports the service fakes from (each adapter's /testing export).
export { FakeSlack, blocksText } from '@teleport-plugin/slack/testing';
export type { FakeSlackMessage } from '@teleport-plugin/slack/testing';
export { FakePagerDuty } from '@teleport-plugin/pagerduty/testing';
export type { FakePdIncident } from '@teleport-plugin/pagerduty/testing';
export type { Fault } from '@teleport-plugin/core/testing';
