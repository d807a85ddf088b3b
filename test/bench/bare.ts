// The bare client of the benchmark (a child process of runtime.bench.ts): the same remote calls
// the runtime makes for one request with slack (two recipients + the requester) and pagerduty,
// written straight on grpc-js and fetch with no framework: one watch stream; per new PENDING
// request, for "slack": create its plugin data, write the intents, three chat.postMessage in
// parallel, write the results, write the step; for "pagerduty": create, intent, POST /incidents,
// result + step. No retries, no records read back, no logging: the floor the runtime is compared to.
//   node bare.js <config.json>
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { loadTeleportProto } from '@teleport-plugin/core/internal/proto';

interface BareConfig {
  addr: string;
  caPem: string;
  keyPem: string;
  certPem: string;
  slackApi: string;
  slackToken: string;
  pdApi: string;
  pdKey: string;
  pdServiceId: string;
  recipients: string[];
  /** requester email -> Slack user id (the runtime caches these look-ups too). */
  requesterIds: Record<string, string>;
}

const config = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as BareConfig;
const { grpcObject } = loadTeleportProto();
const Auth = (grpcObject['proto'] as grpc.GrpcObject)['AuthService'] as grpc.ServiceClientConstructor;
const client = new Auth(config.addr, grpc.credentials.createSsl(Buffer.from(config.caPem), Buffer.from(config.keyPem), Buffer.from(config.certPem)), {
  'grpc.ssl_target_name_override': 'teleport.cluster.local',
  'grpc.default_authority': 'teleport.cluster.local',
}) as unknown as Record<string, (req: unknown, md: grpc.Metadata, cb: (err: unknown, res: unknown) => void) => void> & {
  WatchEvents(req: unknown, md: grpc.Metadata): grpc.ClientReadableStream<WireEvent>;
};

interface WireEvent {
  Type?: string | number;
  AccessRequest?: { Metadata?: { Name?: string }; Spec?: { User?: string; State?: string | number; Roles?: string[] } };
}

const metadata = (): grpc.Metadata => {
  const m = new grpc.Metadata();
  m.set('version', '18.0.0');
  return m;
};

function update(resource: string, plugin: string, set: Record<string, string>, expect: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    client.UpdatePluginData!({ Kind: 'access_request', Resource: resource, Plugin: plugin, Set: set, Expect: expect }, metadata(), (err) => (err ? reject(err) : resolve()));
  });
}

async function post(url: string, headers: Record<string, string>, body: unknown): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return res.json();
}

async function slackLane(id: string, user: string, roles: string): Promise<void> {
  const snapshot = { user, roles, request_reason: '', announced: 'run:bare:1' };
  await update(id, 'slack', snapshot, Object.fromEntries(Object.keys(snapshot).map((k) => [k, ''])));
  const targets = [...config.recipients, config.requesterIds[user] ?? ''].filter(Boolean);
  const intents = Object.fromEntries(targets.map((t) => [`fx/post/${t}`, 'run:bare:1']));
  await update(id, 'slack', intents, { ...snapshot, ...Object.fromEntries(Object.keys(intents).map((k) => [k, ''])) });
  const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: `You have a new Role Request:\n*ID*: ${id}\n*User*: ${user}\n*Role(s)*: \`${roles}\`` } }];
  const refs = await Promise.all(
    targets.map(async (channel) => {
      const res = (await post(
        `${config.slackApi}chat.postMessage`,
        { authorization: `Bearer ${config.slackToken}` },
        {
          channel,
          text: `You have a new Role Request: ${id} by ${user}`,
          blocks,
          metadata: { event_type: 'teleport_access_request', event_payload: { request_id: id, kind: 'request' } },
        },
      )) as { channel?: string; ts?: string };
      return `${res.channel}/${res.ts}`;
    }),
  );
  const results = Object.fromEntries(targets.map((t, i) => [`fx/post/${t}`, `ok:${refs[i]}`]));
  await update(id, 'slack', { ...results, messages: refs.join(',') }, { ...intents, messages: '' });
  await update(id, 'slack', { announced: 'ok' }, { announced: 'run:bare:1' });
}

async function pdLane(id: string, user: string, roles: string): Promise<void> {
  const snapshot = { user, roles, request_reason: '', announced: 'run:bare:1' };
  await update(id, 'pagerduty', snapshot, Object.fromEntries(Object.keys(snapshot).map((k) => [k, ''])));
  await update(id, 'pagerduty', { 'fx/open': 'run:bare:1' }, { 'fx/open': '' });
  const res = (await post(
    `${config.pdApi}/incidents`,
    { authorization: `Token token=${config.pdKey}`, from: 'bot@example.com', accept: 'application/vnd.pagerduty+json;version=2' },
    {
      incident: {
        type: 'incident',
        title: `Access request from ${user}`,
        incident_key: `teleport-access-request/${id}`,
        service: { type: 'service_reference', id: config.pdServiceId },
        body: { type: 'incident_body', details: `${user} requested permissions for roles ${roles} on Teleport.` },
      },
    },
  )) as { incident?: { id?: string } };
  const incident = res.incident?.id ?? '';
  await update(
    id,
    'pagerduty',
    { 'fx/open': `ok:incident_id=${incident}`, incident_id: incident, announced: 'ok' },
    { 'fx/open': 'run:bare:1', incident_id: '', announced: 'run:bare:1' },
  );
}

const seen = new Set<string>();
const stream = client.WatchEvents({ Kinds: [{ Kind: 'access_request' }] }, metadata());
stream.on('data', (event: WireEvent) => {
  const request = event.AccessRequest;
  const id = request?.Metadata?.Name;
  const state = request?.Spec?.State;
  if (!id || (state !== 'PENDING' && state !== 1) || seen.has(id)) return;
  seen.add(id);
  const user = request?.Spec?.User ?? '';
  const roles = (request?.Spec?.Roles ?? []).join(',');
  void Promise.all([slackLane(id, user, roles), pdLane(id, user, roles)]).catch((err: unknown) => process.stderr.write(`bare: ${String(err)}\n`));
});
stream.on('error', (err: unknown) => process.stderr.write(`bare: watch ended: ${String(err)}\n`));
process.on('SIGTERM', () => {
  stream.cancel();
  process.exit(0);
});
process.stdout.write('bare: watching\n');
