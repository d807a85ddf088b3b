import type { DemoProvider } from '@teleport-plugin/core';

/** `teleport-plugin demo --plugin mattermost`: a fake Mattermost with one team channel and a few users. */
export const mattermostDemo: DemoProvider = {
  async start(kit) {
    // Loaded only for the demo: the fake is this package's own testing export.
    const { FakeMattermost } = await import('./testing/fakeMattermost.js');
    const fake = new FakeMattermost({ token: 'mm-demo-token' });
    fake.addChannel({ team: 'demo', name: 'access-requests', displayName: 'Access Requests' });
    // The demo's requesters and reviewer; alice's Teleport name is her email, so she is told the outcome.
    fake.addUser({ email: 'alice@example.com' });
    fake.addUser({ email: 'carol@example.com' });
    await fake.start();
    kit.logger.info('Fake Mattermost started', { url: fake.url });
    return {
      // [mattermost.role_to_recipients]: its own team/channel, never mixed with another adapter's recipients.
      section: { url: fake.url, token: fake.token, role_to_recipients: { '*': ['demo/access-requests'] } },
      describe: () => fake.describe(),
      close: () => fake.close(),
    };
  },
};
