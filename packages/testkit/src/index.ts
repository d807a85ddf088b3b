export { HttpFake } from './http-fake.js';
export type { Fault, FakeReply, RecordedCall, RouteHandler } from './http-fake.js';
