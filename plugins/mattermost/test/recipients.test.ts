import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { checkMattermost } from '../src/check.js';
import type { MattermostConfig } from '../src/config.js';
import { resolveRecipient } from '../src/resolveRecipient.js';
import type { FakeMattermost, FakeMmChannel, FakeMmUser } from '../src/testing/index.js';
import { clientFor, rejection, startFake } from './helpers.js';

let fake: FakeMattermost;
let reviewer: FakeMmUser;
let channel: FakeMmChannel;

before(async () => {
  fake = await startFake();
  reviewer = fake.addUser({ email: 'reviewer1@example.com' });
  channel = fake.addChannel({ team: 'team-llama', name: 'channel-llama' });
  fake.addChannel({ team: 'team-llama', name: 'no-bot', botMember: false });
  fake.addChannel({ team: 'closed', name: 'ops', botMember: false });
  fake.addTeam({ name: 'private-team', type: 'I', botMember: false });
});
after(() => fake.close());

function config(recipients: string[], invalid: string[] = []): MattermostConfig {
  return { url: fake.url, token: fake.token, roleToRecipients: { '*': recipients }, invalidRecipients: invalid, notifyRequester: true };
}

describe('resolveRecipient', () => {
  it('an email becomes the DM channel between the bot and that user; team/channel that channel', async () => {
    const c = clientFor(fake);
    assert.deepEqual(await resolveRecipient(c, 'reviewer1@example.com'), {
      ok: true,
      raw: 'reviewer1@example.com',
      kind: 'direct',
      channelId: fake.directChannelFor(fake.bot, reviewer).id,
    });
    assert.deepEqual(await resolveRecipient(c, 'team-llama/channel-llama'), { ok: true, raw: 'team-llama/channel-llama', kind: 'channel', channelId: channel.id });
  });

  it('a recipient that cannot work comes back with what to do', async () => {
    const c = clientFor(fake);
    const problem = async (raw: string): Promise<string> => {
      const r = await resolveRecipient(c, raw);
      assert.equal(r.ok, false, raw);
      return r.ok ? '' : r.problem;
    };
    assert.match(await problem('fallback'), /"fallback" is neither a user's email nor a channel written as "team\/channel"/);
    assert.equal(await problem('nobody@example.com'), 'no Mattermost user has the email nobody@example.com');
    assert.match(await problem('no-team/general'), /^there is no Mattermost team "no-team": check the name in the team's link/);
    assert.match(await problem('team-llama/missing'), /^team "team-llama" has no channel "missing" the bot can see/);
    assert.match(await problem('Team Llama/General'), /does not look like URL names/);
    assert.match(await problem('closed/ops'), /^the bot is not a member of team "closed": add it to the team/);
    assert.match(await problem('private-team/x'), /invite-only and the bot is not a member/);
    fake.showEmailAddress = false;
    try {
      assert.match(await problem('reviewer1@example.com'), /Show Email Address/);
    } finally {
      fake.showEmailAddress = true;
    }
  });

  it('failures worth retrying are thrown, not turned into problems', async () => {
    fake.fail({ method: 'GET', path: /^\/api\/v4\/users\/email\//, status: 503, times: 10 });
    try {
      const err = await rejection(resolveRecipient(clientFor(fake, { policy: { attempts: 2, baseMs: 1, capMs: 2 } }), 'reviewer1@example.com'));
      assert.equal(err.service?.status, 503);
      assert.equal(err.service?.retryable, true);
    } finally {
      fake.clearFaults();
    }
  });
});

describe('check', () => {
  it('passes for a good token, a channel with the bot and a known email', async () => {
    const writes = (): number => fake.calls.filter((c) => c.method !== 'GET').length;
    const before = writes();
    const items = await checkMattermost(clientFor(fake), config(['team-llama/channel-llama', 'reviewer1@example.com']));
    assert.ok(
      items.every((i) => i.ok),
      JSON.stringify(items, null, 2),
    );
    assert.deepEqual(
      items.map((i) => i.name),
      ['mattermost token', 'mattermost recipient team-llama/channel-llama', 'mattermost recipient reviewer1@example.com'],
    );
    assert.equal(items[0]!.detail, `valid for bot @teleport on ${fake.url}`);
    assert.equal(items[1]!.detail, 'channel found; the bot is a member and can post');
    assert.match(items[2]!.detail ?? '', /^user @reviewer1; posts go to a direct message from @teleport/);
    // Nothing was posted or created.
    assert.equal(writes(), before);
  });

  it('names every recipient that will not work and what to do, without stopping at the first', async () => {
    const items = await checkMattermost(
      clientFor(fake),
      config(['team-llama/no-bot', 'team-llama/missing', 'closed/ops', 'nobody@example.com', 'team-llama/channel-llama'], ['fallback']),
    );
    const byName = Object.fromEntries(items.map((i) => [i.name.replace('mattermost recipient ', ''), i]));
    assert.equal(byName['mattermost token']?.ok, true);
    assert.match(byName['fallback']?.detail ?? '', /neither a user's email nor a channel.*; it is skipped/);
    assert.match(byName['team-llama/no-bot']?.detail ?? '', /the bot is not a member of this channel, so it cannot post there: add it \(type \/invite @teleport in the channel\)/);
    assert.match(byName['team-llama/missing']?.detail ?? '', /has no channel "missing"/);
    assert.match(byName['closed/ops']?.detail ?? '', /not a member of team "closed"/);
    assert.match(byName['nobody@example.com']?.detail ?? '', /no Mattermost user has the email/);
    assert.equal(byName['team-llama/channel-llama']?.ok, true);
    assert.equal(items.filter((i) => !i.ok).length, 5);
  });

  it('stops at a rejected token, in plain words', async () => {
    const items = await checkMattermost(clientFor(fake, { token: 'nope' }), config(['team-llama/channel-llama']));
    assert.equal(items.length, 1);
    assert.equal(items[0]!.ok, false);
    assert.match(items[0]!.detail ?? '', /Mattermost rejected the bot token; check \[mattermost\] token/);
  });

  it('says so when no recipients are configured', async () => {
    const items = await checkMattermost(clientFor(fake), { ...config([]), roleToRecipients: {} });
    assert.deepEqual(items.at(-1), { name: 'mattermost recipients', ok: true, detail: 'none configured: only suggested reviewers (by email) are told about requests' });
  });
});
