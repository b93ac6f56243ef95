/**
 * A backend URL fit for logs and messages: its password, if any, is replaced by `***`
 * (`redis://:secret@host` → `redis://:***@host`). Works on malformed URLs too.
 *
 * @example
 * ```ts
 * redactUrl('mongodb://app:s3cret@db1:27017/jobs'); // 'mongodb://app:***@db1:27017/jobs'
 * ```
 */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
