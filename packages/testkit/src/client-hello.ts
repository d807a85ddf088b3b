/**
 * Minimal TLS ClientHello reader: enough to route a connection by ALPN and SNI without terminating
 * TLS (what Teleport's proxy does for `teleport-auth@` connections). Handles a ClientHello split
 * over several TLS records.
 */

export type ClientHelloResult = { status: 'incomplete' } | { status: 'invalid'; reason: string } | { status: 'ok'; sni: string | undefined; alpn: string[] };

const MAX_HELLO_BYTES = 64 * 1024;

export function parseClientHello(buf: Buffer): ClientHelloResult {
  // Reassemble handshake bytes from consecutive handshake records (content type 22).
  const hs: Buffer[] = [];
  let hsLen = 0;
  let off = 0;
  while (off + 5 <= buf.length) {
    if (buf[off] !== 22) return { status: 'invalid', reason: `not a TLS handshake record (type ${buf[off]})` };
    const len = buf.readUInt16BE(off + 3);
    if (off + 5 + len > buf.length) break;
    hs.push(buf.subarray(off + 5, off + 5 + len));
    hsLen += len;
    off += 5 + len;
    const joined = Buffer.concat(hs, hsLen);
    if (joined.length >= 4) {
      if (joined[0] !== 1) return { status: 'invalid', reason: 'first handshake message is not a ClientHello' };
      const bodyLen = joined.readUIntBE(1, 3);
      if (joined.length >= 4 + bodyLen) return parseBody(joined.subarray(4, 4 + bodyLen));
    }
  }
  if (buf.length > 0 && buf[0] !== 22) return { status: 'invalid', reason: `not a TLS handshake record (type ${buf[0]})` };
  if (buf.length > MAX_HELLO_BYTES) return { status: 'invalid', reason: 'ClientHello too large' };
  return { status: 'incomplete' };
}

function parseBody(b: Buffer): ClientHelloResult {
  let p = 2 + 32; // legacy_version + random
  const need = (n: number): boolean => p + n <= b.length;
  if (!need(1)) return { status: 'invalid', reason: 'truncated session id' };
  p += 1 + b[p]!;
  if (!need(2)) return { status: 'invalid', reason: 'truncated cipher suites' };
  p += 2 + b.readUInt16BE(p);
  if (!need(1)) return { status: 'invalid', reason: 'truncated compression methods' };
  p += 1 + b[p]!;
  let sni: string | undefined;
  const alpn: string[] = [];
  if (p === b.length) return { status: 'ok', sni, alpn }; // no extensions at all
  if (!need(2)) return { status: 'invalid', reason: 'truncated extensions' };
  const extEnd = p + 2 + b.readUInt16BE(p);
  p += 2;
  if (extEnd > b.length) return { status: 'invalid', reason: 'truncated extensions' };
  while (p + 4 <= extEnd) {
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    const data = b.subarray(p + 4, p + 4 + len);
    p += 4 + len;
    if (type === 0 && data.length >= 2) {
      let q = 2;
      while (q + 3 <= data.length) {
        const nameType = data[q]!;
        const nameLen = data.readUInt16BE(q + 1);
        if (nameType === 0) sni = data.subarray(q + 3, q + 3 + nameLen).toString('ascii');
        q += 3 + nameLen;
      }
    } else if (type === 16 && data.length >= 2) {
      let q = 2;
      while (q < data.length) {
        const l = data[q]!;
        alpn.push(data.subarray(q + 1, q + 1 + l).toString('ascii'));
        q += 1 + l;
      }
    }
  }
  return { status: 'ok', sni, alpn };
}
