// Probe: remote calls per request (pending only), slack (2 recipients + requester) + pagerduty.
import slack from '@teleport-plugin/slack';
import pagerduty from '@teleport-plugin/pagerduty';
import { FakeSlack } from '@teleport-plugin/slack/testing';
import { FakePagerDuty } from '@teleport-plugin/pagerduty/testing';
import { FakeTeleport, startHarness } from '@teleport-plugin/testkit';
import { parseConfig, silentLogger } from '@teleport-plugin/core';

const N = Number(process.argv[2] ?? 20);
const tp = await FakeTeleport.start();
const fs = new FakeSlack(); fs.addChannel({ id: 'C0ACCESS1', name: 'access-requests' });
fs.addUser({ id: 'U0LEAD001', name: 'lead', email: 'lead@example.com' });
for (let i = 0; i < 5; i++) { fs.addUser({ id: `U0REQ${i}000`, name: `r${i}`, email: `r${i}@example.com` }); tp.addRequester(`r${i}@example.com`, { requestAnnotations: { pagerduty_notify_service: ['Access'] } }); }
await fs.start();
const pd = new FakePagerDuty({ apiKey: 'k' }); await pd.start(); pd.addUser('bot@example.com', 'Bot'); pd.addService('Access');
const toml = `[teleport]\nidentity = "/dev/null"\n[slack]\ntoken = "${fs.token}"\napi_url = "${fs.apiUrl}"\n[role_to_recipients]\n"*" = ["access-requests", "lead@example.com"]\n[pagerduty]\napi_key = "k"\nuser_email = "bot@example.com"\napi_endpoint = "${pd.url}"\n`;
const cfg = parseConfig(toml, 'probe.toml', { env: {} });
const h = await startHarness({ teleport: tp, adapters: [
  { adapter: slack, config: slack.parseConfig(cfg.section('slack'), cfg.context) },
  { adapter: pagerduty, config: pagerduty.parseConfig(cfg.section('pagerduty'), cfg.context) },
], logger: silentLogger });
// warm up (caches)
await tp.admin.createRequest({ user: 'r0@example.com', roles: ['editor'] });
await tp.waitFor(() => pd.incidents.length === 1, 10000, 'warm');
await h.runtime.idle(); await new Promise((r) => setTimeout(r, 300)); await h.runtime.idle();
const t0 = tp.calls.length, s0 = fs.calls.length, p0 = pd.calls.length;
for (let i = 0; i < N; i++) await tp.admin.createRequest({ user: `r${i % 5}@example.com`, roles: ['editor'] });
await tp.waitFor(() => pd.incidents.length === N + 1 && fs.rootMessages().length === 3 * (N + 1), 20000, 'all');
await new Promise((r) => setTimeout(r, 500)); await h.runtime.idle();
const tCalls = tp.calls.slice(t0).filter((c) => c.method !== 'CreateAccessRequest' && c.method !== 'WatchEvents');
const by = new Map<string, number>(); for (const c of tCalls) by.set(c.method, (by.get(c.method) ?? 0) + 1);
const sBy = new Map<string, number>(); for (const c of fs.calls.slice(s0)) sBy.set(c.path, (sBy.get(c.path) ?? 0) + 1);
const pBy = new Map<string, number>(); for (const c of pd.calls.slice(p0)) pBy.set(`${c.method} ${c.path}`, (pBy.get(`${c.method} ${c.path}`) ?? 0) + 1);
const per = (n: number) => (n / N).toFixed(2);
console.log('teleport', per(tCalls.length), Object.fromEntries([...by].map(([k, v]) => [k, per(v)])));
console.log('slack', per(fs.calls.length - s0), Object.fromEntries([...sBy].map(([k, v]) => [k, per(v)])));
console.log('pagerduty', per(pd.calls.length - p0), Object.fromEntries([...pBy].map(([k, v]) => [k, per(v)])));
console.log('total per request', per(tCalls.length + fs.calls.length - s0 + pd.calls.length - p0));
await h.stop(); await fs.close(); await pd.close(); await tp.close();
