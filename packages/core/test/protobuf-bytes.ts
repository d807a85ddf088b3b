// A tiny protobuf writer and reader, independent of protobufjs, so wire tests build bytes BY HAND
// from upstream field numbers and look at the bytes our proto produces. (teleport-wire.test.ts
// carries its own copy of the same few lines.)

export function varint(value: bigint | number): number[] {
  // int64 negatives are written as 10-byte two's complement varints.
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
}
export const key = (field: number, wireType: number): number[] => varint((field << 3) | wireType);
export const vint = (field: number, value: bigint | number): number[] => [...key(field, 0), ...varint(value)];
export const bytesField = (field: number, payload: number[]): number[] => [...key(field, 2), ...varint(payload.length), ...payload];
export const str = (field: number, s: string): number[] => bytesField(field, [...Buffer.from(s, 'utf8')]);
export const msg = (field: number, ...parts: number[][]): number[] => bytesField(field, parts.flat());
export const ts = (field: number, seconds: bigint | number, nanos = 0): number[] => msg(field, vint(1, seconds), ...(nanos ? [vint(2, nanos)] : []));
export const mapEntry = (field: number, k: string, value: number[]): number[] => msg(field, str(1, k), value);

export interface RawField {
  field: number;
  wireType: number;
  value: bigint | Buffer;
}

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const b = buf[pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
}

export function readFields(buf: Buffer): RawField[] {
  const out: RawField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [k, p1] = readVarint(buf, pos);
    const field = Number(k >> 3n);
    const wireType = Number(k & 7n);
    if (wireType === 0) {
      const [v, p2] = readVarint(buf, p1);
      out.push({ field, wireType, value: v });
      pos = p2;
    } else if (wireType === 2) {
      const [len, p2] = readVarint(buf, p1);
      out.push({ field, wireType, value: buf.subarray(p2, p2 + Number(len)) });
      pos = p2 + Number(len);
    } else {
      throw new Error(`unexpected wire type ${wireType}`);
    }
  }
  return out;
}

/** The string values of every occurrence of `field` (length-delimited). */
export function strings(buf: Buffer, field: number): string[] {
  return readFields(buf)
    .filter((f) => f.field === field)
    .map((f) => (f.value as Buffer).toString('utf8'));
}

/** The first occurrence of a length-delimited `field`, as bytes. */
export function sub(buf: Buffer, field: number): Buffer | undefined {
  const f = readFields(buf).find((x) => x.field === field);
  return f ? (f.value as Buffer) : undefined;
}
