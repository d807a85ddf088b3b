// The ONE place the soak harness imports the service fakes from. They are moving to
// @teleport-plugin/slack/testing and @teleport-plugin/pagerduty/testing; when they do, only the
// import lines below change.
export { FakeSlack, FakePagerDuty, blocksText } from '@teleport-plugin/testkit';
export type { FakeSlackMessage, FakePdIncident, Fault } from '@teleport-plugin/testkit';
