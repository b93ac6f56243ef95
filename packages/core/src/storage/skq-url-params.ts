/**
 * Splits skunq's own options out of a driver's connection URL: query parameters named `skq<Option>`
 * become `{ option: value }` (the first letter lowered), each value read by `read`; every other
 * parameter stays in the URL, for the driver. For the backends whose URLs belong to their driver
 * (MongoDB, PostgreSQL); the options are checked by the backend's schema afterwards.
 *
 * @example
 * ```ts
 * splitSkqParams('postgres://db/app?sslmode=disable&skqSchema=jobs', (_, v) => v);
 * // → { url: 'postgres://db/app?sslmode=disable', options: { schema: 'jobs' } }
 * ```
 */
export function splitSkqParams(url: string, read: (option: string, value: string) => unknown): { url: string; options: Record<string, unknown> } {
  const query = url.indexOf('?');
  if (query < 0) return { url, options: {} };
  const params = new URLSearchParams(url.slice(query + 1));
  const options: Record<string, unknown> = {};
  for (const [key, value] of [...params]) {
    if (!key.startsWith('skq')) continue;
    const option = key.slice(3, 4).toLowerCase() + key.slice(4);
    options[option] = read(option, value);
    params.delete(key);
  }
  const rest = params.toString();
  return { url: url.slice(0, query) + (rest ? `?${rest}` : ''), options };
}
