import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodePostRefs, encodePostRefs, withPostRefs } from '../src/pluginData.js';

describe('plugin data (Go layout, plugin name "mattermost")', () => {
  it('reads messages as channelID/postID joined by commas, skipping malformed entries', () => {
    assert.deepEqual(decodePostRefs({ messages: 'c1/p1,c2/p2,broken,a/b/c,,c1/p1' }), [
      { channelId: 'c1', postId: 'p1' },
      { channelId: 'c2', postId: 'p2' },
    ]);
    assert.deepEqual(decodePostRefs(undefined), []);
    assert.deepEqual(decodePostRefs({ messages: '' }), []);
  });

  it('reads the legacy channel_id + postID pair first, as the Go plugin does', () => {
    assert.deepEqual(decodePostRefs({ channel_id: 'old', postID: 'p0', messages: 'c1/p1' }), [
      { channelId: 'old', postId: 'p0' },
      { channelId: 'c1', postId: 'p1' },
    ]);
    assert.deepEqual(decodePostRefs({ channel_id: 'old', postID: '' }), []);
  });

  it('writes messages and drops the legacy keys (their post is carried over), keeping everything else', () => {
    const data = { user: 'u', roles: 'a,b', channel_id: 'old', postID: 'p0', reviews_count: '2' };
    const refs = [...decodePostRefs(data), { channelId: 'c1', postId: 'p1' }];
    assert.equal(encodePostRefs(refs), 'old/p0,c1/p1');
    assert.deepEqual(withPostRefs(data, refs), { user: 'u', roles: 'a,b', reviews_count: '2', messages: 'old/p0,c1/p1' });
    assert.deepEqual(withPostRefs(undefined, []), { messages: '' });
  });
});
