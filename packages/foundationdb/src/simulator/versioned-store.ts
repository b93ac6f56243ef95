/**
 * The simulator's storage: every key with its history of versions (MVCC), in byte order.
 * Keys are held as latin1 strings, whose code units compare exactly as the bytes do.
 */
export interface VersionedValue {
  version: bigint;
  /** null: cleared at this version. */
  value: Buffer | null;
}

export class VersionedStore {
  /** Keys in byte order, each with at least one version. */
  private readonly keys: string[] = [];
  private readonly history = new Map<string, VersionedValue[]>();

  /** The value of `key` as of `version`. */
  read(key: string, version: bigint): Buffer | undefined {
    const versions = this.history.get(key);
    if (!versions) return undefined;
    for (let i = versions.length - 1; i >= 0; i -= 1) {
      if (versions[i]!.version <= version) return versions[i]!.value ?? undefined;
    }
    return undefined;
  }

  /** The latest value of `key`, whatever its version. */
  latest(key: string): Buffer | undefined {
    const versions = this.history.get(key);
    return versions ? (versions[versions.length - 1]!.value ?? undefined) : undefined;
  }

  /** Pairs with `begin ≤ key < end` as of `version`, in order or reversed, at most `limit`. */
  range(begin: string, end: string, version: bigint, limit: number, reverse: boolean): [string, Buffer][] {
    const out: [string, Buffer][] = [];
    if (begin >= end) return out;
    const from = this.lowerBound(begin);
    const to = this.lowerBound(end);
    if (!reverse) {
      for (let i = from; i < to && out.length < limit; i += 1) {
        const value = this.read(this.keys[i]!, version);
        if (value !== undefined) out.push([this.keys[i]!, value]);
      }
    } else {
      for (let i = to - 1; i >= from && out.length < limit; i -= 1) {
        const value = this.read(this.keys[i]!, version);
        if (value !== undefined) out.push([this.keys[i]!, value]);
      }
    }
    return out;
  }

  /** Keys with any version in `[begin, end)`, for clearing a range. */
  keysIn(begin: string, end: string): string[] {
    return begin >= end ? [] : this.keys.slice(this.lowerBound(begin), this.lowerBound(end));
  }

  /** Records `value` (null: cleared) for `key` at `version`. */
  write(key: string, value: Buffer | null, version: bigint): void {
    let versions = this.history.get(key);
    if (!versions) {
      if (value === null) return; // Clearing a key that never existed leaves nothing to remember.
      versions = [];
      this.history.set(key, versions);
      this.keys.splice(this.lowerBound(key), 0, key);
    }
    versions.push({ version, value });
  }

  /**
   * Forgets versions no reader can ask for: those older than `oldest`, keeping the last one
   * before it; a key whose only remaining version is a clear is dropped.
   */
  prune(oldest: bigint): void {
    const dropped: string[] = [];
    for (const [key, versions] of this.history) {
      let keepFrom = 0;
      for (let i = versions.length - 1; i >= 0; i -= 1) {
        if (versions[i]!.version <= oldest) {
          keepFrom = i;
          break;
        }
      }
      if (keepFrom > 0) versions.splice(0, keepFrom);
      if (versions.length === 1 && versions[0]!.value === null && versions[0]!.version <= oldest) dropped.push(key);
    }
    for (const key of dropped) {
      this.history.delete(key);
      this.keys.splice(this.lowerBound(key), 1);
    }
  }

  /** How many keys hold a value now (for figures). */
  liveKeys(): number {
    let n = 0;
    for (const versions of this.history.values()) if (versions[versions.length - 1]!.value !== null) n += 1;
    return n;
  }

  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
