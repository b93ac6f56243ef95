/**
 * HTML built from templates whose interpolations are escaped unless they are already {@link SafeHtml}.
 * Every page goes through `html`, so a job's arguments, names, errors and log lines can only ever
 * render as text. A dozen lines need no templating library.
 */

/** Markup that is already safe: built by `html`, or one of the monitor's own constants. */
export class SafeHtml {
  constructor(readonly value: string) {}

  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text with `& < > " '` escaped, so it is inert both in content and in quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/**
 * A template whose values are escaped: strings and numbers as text, arrays item by item,
 * `null`, `undefined` and `false` as nothing, `SafeHtml` as it is.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i += 1) out += render(values[i]) + strings[i + 1]!;
  return new SafeHtml(out);
}

function render(value: unknown): string {
  if (value instanceof SafeHtml) return value.value;
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}
