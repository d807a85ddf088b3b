// Benchmark (not part of the test run): N access requests through the real client, watcher and
// dispatcher against the gRPC FakeTeleport.
//   node test/dist/bench/dispatch.bench.js [N=500] [handler work ms=0] [adapters=2]
import { defineAdapter } from '@teleport-plugin/core';
import { FakeTeleport, startHarness } from '@teleport-plugin/testkit';

const N = Number(process.argv[2] ?? 500);
const WORK_MS = Number(process.argv[3] ?? 0);
const ADAPTERS = Number(process.argv[4] ?? 2);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const teleport = await FakeTeleport.start();
  teleport.addRequester('alice@example.com');
  const createdAt = new Map<string, number>();
  const handlerMs: number[] = [];
  const endToEndMs: number[] = [];
  let handled = 0;
  let allDone!: () => void;
  const done = new Promise<void>((resolve) => (allDone = resolve));

  const adapters = Array.from({ length: ADAPTERS }, (_, i) => ({
    adapter: defineAdapter<unknown>({
      name: `bench${i}`,
      parseConfig: () => ({}),
      async setup() {
        return {
          async onPending(request) {
            const t0 = performance.now();
            if (WORK_MS > 0) await new Promise((r) => setTimeout(r, WORK_MS));
            handlerMs.push(performance.now() - t0);
            const created = createdAt.get(request.id);
            if (created !== undefined) endToEndMs.push(performance.now() - created);
            if (++handled === N * ADAPTERS) allDone();
          },
        };
      },
    }),
    config: {},
  }));

  const h = await startHarness({ teleport, adapters });
  const start = performance.now();
  // Create in parallel batches, as a busy cluster would.
  const batch = 50;
  for (let i = 0; i < N; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, N - i) }, async () => {
        const t = performance.now();
        const id = await teleport.admin.createRequest({ user: 'alice@example.com', roles: ['editor'] });
        createdAt.set(id, t);
      }),
    );
  }
  await done;
  const seconds = (performance.now() - start) / 1000;
  handlerMs.sort((x, y) => x - y);
  endToEndMs.sort((x, y) => x - y);
  const conflicts = (await h.runtime.metrics.pluginDataConflicts.get()).values.reduce((s, v) => s + v.value, 0);
  console.log(`requests=${N} adapters=${ADAPTERS} handler-work=${WORK_MS}ms`);
  console.log(`events/s (request x adapter) = ${((N * ADAPTERS) / seconds).toFixed(1)}  over ${seconds.toFixed(2)} s`);
  console.log(`handler latency  p50=${percentile(handlerMs, 50).toFixed(2)} ms  p99=${percentile(handlerMs, 99).toFixed(2)} ms`);
  console.log(`create->handled  p50=${percentile(endToEndMs, 50).toFixed(2)} ms  p99=${percentile(endToEndMs, 99).toFixed(2)} ms`);
  console.log(`plugin-data conflicts=${conflicts}`);
  await h.stop();
  await teleport.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
