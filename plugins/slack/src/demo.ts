import type { DemoProvider } from '@teleport-plugin/core';
// Type only: the CLI passes the testkit module in, so it stays a devDependency.
import type * as Testkit from '@teleport-plugin/testkit';

/** `teleport-plugin demo --plugin slack`: a fake Slack with one channel and a few users. */
export const slackDemo: DemoProvider = {
  async start(kit) {
    const testkit = kit.testkit as typeof Testkit;
    const fake = new testkit.FakeSlack({ token: 'xoxb-demo' });
    fake.addChannel({ id: 'C0DEMO0001', name: 'access-requests' });
    fake.addUser({ id: 'U0ALICE', name: 'alice', email: 'alice@example.com' });
    fake.addUser({ id: 'U0BOB', name: 'bob', email: 'bob@example.com' });
    await fake.start();
    kit.logger.info('Fake Slack started', { url: fake.apiUrl });
    return {
      section: { token: 'xoxb-demo', api_url: fake.apiUrl },
      topLevel: { role_to_recipients: { '*': ['access-requests'] } },
      describe: () => fake.describe(),
      close: () => fake.close(),
    };
  },
};
