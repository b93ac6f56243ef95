/**
 * Keys as tuples, in the encoding of FDB's tuple layer (the subset skunq uses: null, byte strings,
 * unicode strings and integers), so that keys sort as their parts do and a prefix is a range.
 * Written here because the simulator must encode keys without the native binding.
 */
export type TuplePart = null | string | number | Buffer;

const NULL = 0x00;
const BYTES = 0x01;
const STRING = 0x02;
const INT_ZERO = 0x14;
const VERSIONSTAMP = 0x33;

/**
 * The key of a tuple.
 *
 * @example
 * ```ts
 * pack(['skq', 'emails', 'j', 'job-1']);
 * ```
 */
export function pack(parts: readonly TuplePart[]): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    if (part === null) chunks.push(Buffer.from([NULL]));
    else if (typeof part === 'string') chunks.push(Buffer.from([STRING]), escape(Buffer.from(part, 'utf8')), Buffer.from([0]));
    else if (Buffer.isBuffer(part)) chunks.push(Buffer.from([BYTES]), escape(part), Buffer.from([0]));
    else chunks.push(packInt(part));
  }
  return Buffer.concat(chunks);
}

/**
 * The parts of a key made by {@link pack}.
 *
 * @example
 * ```ts
 * unpack(pack(['q', 7])); // ['q', 7]
 * ```
 */
export function unpack(key: Buffer): TuplePart[] {
  const parts: TuplePart[] = [];
  let i = 0;
  while (i < key.length) {
    const code = key[i]!;
    i += 1;
    if (code === NULL) parts.push(null);
    else if (code === BYTES || code === STRING) {
      const bytes: number[] = [];
      for (;;) {
        const b = key[i]!;
        if (b === 0 && key[i + 1] === 0xff) {
          bytes.push(0);
          i += 2;
        } else if (b === 0) {
          i += 1;
          break;
        } else {
          bytes.push(b);
          i += 1;
        }
      }
      const buf = Buffer.from(bytes);
      parts.push(code === STRING ? buf.toString('utf8') : buf);
    } else if (code === VERSIONSTAMP) {
      parts.push(Buffer.from(key.subarray(i, i + 12)));
      i += 12;
    } else if (code >= INT_ZERO - 8 && code <= INT_ZERO + 8) {
      const n = code - INT_ZERO;
      const width = Math.abs(n);
      let value = 0;
      for (let k = 0; k < width; k += 1) value = value * 256 + (n < 0 ? 0xff - key[i + k]! : key[i + k]!);
      parts.push(n < 0 ? -value : value);
      i += width;
    } else {
      throw new Error(`unpack: type code 0x${code.toString(16)} is not one skunq writes`);
    }
  }
  return parts;
}

/**
 * A key ending in an incomplete versionstamp (the tuple layer's type 0x33: 10 bytes the commit fills
 * in, then a 2-byte `userVersion` that orders keys written by one transaction), and the offset of
 * the 10 bytes, for `setVersionstampedKey`.
 */
export function packVersionstamped(parts: readonly TuplePart[], userVersion: number): { key: Buffer; offset: number } {
  const prefix = pack(parts);
  const key = Buffer.alloc(prefix.length + 13, 0xff);
  prefix.copy(key);
  key[prefix.length] = VERSIONSTAMP;
  key.writeUInt16BE(userVersion, prefix.length + 11);
  return { key, offset: prefix.length + 1 };
}

/**
 * The range holding every key that starts with the tuple `parts` (and not the tuple itself).
 *
 * @example
 * ```ts
 * const rows = await tr.getRange(...prefixRange(['skq', 'emails', 'j']));
 * ```
 */
export function prefixRange(parts: readonly TuplePart[]): [Buffer, Buffer] {
  const prefix = pack(parts);
  return [Buffer.concat([prefix, Buffer.from([0x00])]), Buffer.concat([prefix, Buffer.from([0xff])])];
}

/**
 * The first key after every key that starts with `key` (FDB's `strinc`).
 *
 * @example
 * ```ts
 * strinc(Buffer.from('ab')); // 'ac'
 * ```
 */
export function strinc(key: Buffer): Buffer {
  let end = key.length;
  while (end > 0 && key[end - 1] === 0xff) end -= 1;
  if (end === 0) throw new Error('strinc: the key is all 0xff');
  const out = Buffer.from(key.subarray(0, end));
  out[end - 1] = out[end - 1]! + 1;
  return out;
}

function escape(bytes: Buffer): Buffer {
  if (!bytes.includes(0)) return bytes;
  const out: number[] = [];
  for (const b of bytes) {
    out.push(b);
    if (b === 0) out.push(0xff);
  }
  return Buffer.from(out);
}

function packInt(value: number): Buffer {
  if (!Number.isSafeInteger(value)) throw new Error(`pack: ${value} is not a safe integer`);
  if (value === 0) return Buffer.from([INT_ZERO]);
  const magnitude = Math.abs(value);
  const bytes: number[] = [];
  for (let v = magnitude; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  const body = value > 0 ? bytes : bytes.map((b) => 0xff - b);
  return Buffer.from([INT_ZERO + (value > 0 ? bytes.length : -bytes.length), ...body]);
}
