/** What a page shows of a JSON value: its start, cut at `limit` characters. */
export interface JsonPreview {
  text: string;
  /** The whole value's JSON length, in characters. */
  length: number;
  cut: boolean;
}

/** How much of an argument list or result a job page shows before linking to the full JSON. */
export const JOB_PAGE_JSON_LIMIT = 4_096;
/** How much of a job's arguments a listing row shows. */
export const ROW_JSON_LIMIT = 120;

/**
 * The start of a value's JSON. A page never carries a big payload: a 5 MB result is cut to a few
 * KB here, and the full JSON is a separate link.
 */
export function previewJson(value: unknown, limit: number, indent = 2): JsonPreview {
  let text: string;
  try {
    text = JSON.stringify(value, null, indent) ?? 'undefined';
  } catch {
    text = '[not JSON]';
  }
  return text.length > limit ? { text: `${text.slice(0, limit)}…`, length: text.length, cut: true } : { text, length: text.length, cut: false };
}

/** A byte count for people: 5.2 MB, 812 B. */
export function formatSize(chars: number): string {
  if (chars < 1_000) return `${chars} B`;
  if (chars < 1_000_000) return `${(chars / 1_000).toFixed(1)} KB`;
  return `${(chars / 1_000_000).toFixed(1)} MB`;
}

/** What a page shows of a text (an error message, a stack, a log line): its start, cut at `limit` characters. */
export function previewText(text: string, limit: number): JsonPreview {
  return text.length > limit ? { text: `${text.slice(0, limit)}…`, length: text.length, cut: true } : { text, length: text.length, cut: false };
}
