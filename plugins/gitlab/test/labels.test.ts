import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_LABEL_COLORS, decisionOfLabel, defaultLabelName, LABEL_KEYS, labelKey, planLabels, reduceLabelName, resolutionLabelKey } from '../src/labels.js';

test('names reduce as upstream: teleport prefix, colon, case and spaces ignored', () => {
  assert.equal(reduceLabelName('Teleport: Approved'), 'approved');
  assert.equal(reduceLabelName('  teleport :denied  '), 'denied');
  assert.equal(reduceLabelName('TELEPORT\t:\u00a0Pending'), 'pending');
  assert.equal(reduceLabelName('teleport: some other'), 'some other');
  assert.equal(reduceLabelName('teleport:a:b'), 'a:b', 'split at the first colon only');
  assert.equal(reduceLabelName('Approved'), undefined);
  assert.equal(reduceLabelName('teleports: approved'), undefined);
  assert.equal(reduceLabelName('teleport:'), undefined);
  assert.equal(reduceLabelName('team teleport: approved'), undefined);
});

test('only the four keys count; only approved and denied decide', () => {
  assert.equal(labelKey('Teleport: Expired'), 'expired');
  assert.equal(labelKey('Teleport: Promoted'), undefined);
  assert.equal(decisionOfLabel('teleport : APPROVED'), 'approved');
  assert.equal(decisionOfLabel('Teleport: Denied'), 'denied');
  assert.equal(decisionOfLabel('Teleport: Pending'), undefined);
  assert.equal(decisionOfLabel('Teleport: Expired'), undefined);
  assert.equal(decisionOfLabel('approved'), undefined);
});

test("default names and colours are upstream's", () => {
  assert.deepEqual(
    LABEL_KEYS.map((k) => [defaultLabelName(k), DEFAULT_LABEL_COLORS[k]]),
    [
      ['Teleport: Pending', '#FFECDB'],
      ['Teleport: Approved', '#428BCA'],
      ['Teleport: Denied', '#D9534F'],
      ['Teleport: Expired', '#7F8C8D'],
    ],
  );
});

test('planLabels reuses existing names (first wins) and creates the rest', () => {
  const plan = planLabels(['bug', 'teleport:approved', 'Teleport: Approved', 'TELEPORT : Pending']);
  assert.deepEqual(plan.existing, { approved: 'teleport:approved', pending: 'TELEPORT : Pending' });
  assert.deepEqual(plan.missing, [
    { key: 'denied', name: 'Teleport: Denied', color: '#D9534F' },
    { key: 'expired', name: 'Teleport: Expired', color: '#7F8C8D' },
  ]);
  assert.equal(planLabels([]).missing.length, 4);
  assert.equal(planLabels(LABEL_KEYS.map(defaultLabelName)).missing.length, 0);
});

test('resolution tags map to the label the issue closes with', () => {
  assert.equal(resolutionLabelKey('approved'), 'approved');
  assert.equal(resolutionLabelKey('denied'), 'denied');
  assert.equal(resolutionLabelKey('expired'), 'expired');
  assert.equal(resolutionLabelKey('promoted'), 'approved');
});
