import * as net from 'node:net';

/** A loopback TCP port nobody listens on right now (demos pick their HTTP address with it). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** `[http]` for a demo run without the demo's shared server (an older CLI): plain HTTP on a free loopback port. */
export async function demoHttpAddress(): Promise<{ listenAddr: string; url: string }> {
  const port = await freeLoopbackPort();
  return { listenAddr: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}` };
}
