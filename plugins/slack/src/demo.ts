import type { DemoProvider } from '@teleport-plugin/core';

/** `teleport-plugin demo --plugin slack`: a fake Slack with one channel and a few users. */
export const slackDemo: DemoProvider = {
  async start(kit) {
    // Loaded only for the demo: the fake is this package's own testing export.
    const { FakeSlack } = await import('./testing/fakeSlack.js');
    const fake = new FakeSlack({ token: 'xoxb-demo' });
    fake.addChannel({ id: 'C0DEMO0001', name: 'access-requests' });
    fake.addUser({ id: 'U0ALICE', name: 'alice', email: 'alice@example.com' });
    fake.addUser({ id: 'U0BOB', name: 'bob', email: 'bob@example.com' });
    await fake.start();
    kit.logger.info('Fake Slack started', { url: fake.apiUrl });
    return {
      // [slack.role_to_recipients]: Slack's own channel, never mixed with another adapter's recipients.
      section: { token: 'xoxb-demo', api_url: fake.apiUrl, role_to_recipients: { '*': ['access-requests'] } },
      describe: () => fake.describe(),
      close: () => fake.close(),
    };
  },
};
