/**
 * FDB's atomic operations on a stored value: `add` is a signed little-endian add and `max` an
 * unsigned little-endian max, both at the operand's width (a shorter stored value is zero-extended,
 * a longer one cut), as FDB's documentation of `MutationType` describes them.
 */
export function applyAtomic(kind: 'add' | 'max', current: Buffer | undefined, operand: Buffer): Buffer {
  const width = operand.length;
  const existing = Buffer.alloc(width);
  current?.copy(existing, 0, 0, Math.min(width, current.length));
  if (kind === 'add') {
    const out = Buffer.alloc(width);
    let carry = 0;
    for (let i = 0; i < width; i += 1) {
      const sum = existing[i]! + operand[i]! + carry;
      out[i] = sum & 0xff;
      carry = sum >> 8;
    }
    return out;
  }
  for (let i = width - 1; i >= 0; i -= 1) if (existing[i] !== operand[i]) return existing[i]! > operand[i]! ? existing : Buffer.from(operand);
  return existing;
}
