// @teleport-plugin/core/testing: what adapter tests (ours and third parties') share. Not loaded by
// the runtime itself.
export { HttpFake } from './httpFake.js';
export type { Fault, FakeReply, RecordedCall, RouteHandler } from './httpFake.js';
export { MemoryTeleport, makeAccessRequest, makeAccessReview } from './memoryTeleport.js';
export type { MemoryWatchStream } from './memoryTeleport.js';
export { startAdapterTest, adapterContext, handlerEvent } from './adapterTest.js';
export type { AdapterTest, AdapterTestOptions } from './adapterTest.js';
