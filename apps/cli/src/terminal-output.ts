import { formatLogLine, type Logger } from '@skq/core';

/**
 * Everything the CLI prints goes through here. Job ids, names, errors, log lines and results are
 * written by whoever fires or runs a job; printed raw, an escape sequence among them can recolour,
 * clear or retitle the operator's terminal, plant a hyperlink (OSC 8), or fake table rows. So every
 * human line has its control characters (C0, ESC, DEL, C1) written out as `\xNN` before it reaches
 * a terminal, and JSON output escapes the ones JSON itself leaves raw.
 */

// C0 but newline and tab, DEL, C1. ESC (0x1b) is in C0.
const CONTROL_IN_TEXT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
// Also newline and tab: a one-line cell stays one line.
const CONTROL_IN_CELL = /[\u0000-\u001f\u007f-\u009f]/g;
// JSON.stringify escapes C0 itself but leaves DEL and C1 raw.
const CONTROL_IN_JSON = /[\u007f-\u009f]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(char: string): string {
  return NAMED[char] ?? `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/**
 * A value for one cell or one line: every control character escaped, newlines and tabs included.
 *
 * @example
 * ```ts
 * cell('a\u001b[2Jb\nc'); // 'a\\x1b[2Jb\\nc'
 * ```
 */
export function cell(value: unknown): string {
  return String(value).replace(CONTROL_IN_CELL, escapeChar);
}

/**
 * Text meant to span lines (an error message, a log line): control characters escaped but newlines
 * and tabs kept; each line after the first is indented by `indent`.
 *
 * @example
 * ```ts
 * multiline('boom\n  at x\u0007', '    '); // 'boom\n      at x\\x07'
 * ```
 */
export function multiline(value: string, indent = ''): string {
  const text = value.replace(CONTROL_IN_TEXT, escapeChar);
  return indent ? text.replace(/\n/g, `\n${indent}`) : text;
}

/** Prints human output on stdout, one line (or block) per call, with control characters escaped. */
export function say(text: string): void {
  console.log(multiline(text));
}

/** Prints an error or a notice on stderr, with control characters escaped. */
export function complain(text: string): void {
  process.stderr.write(multiline(text));
}

/** Prints a value as indented JSON on stdout; DEL and C1, which JSON leaves raw, become `\u00NN`. */
export function sayJson(value: unknown): void {
  const json = JSON.stringify(value, null, 2).replace(CONTROL_IN_JSON, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
  console.log(json);
}

/**
 * The logger the CLI hands the worker pool and the trigger runner: their warnings quote job errors, ids
 * and contexts, so the default line is escaped after formatting, the message and every meta value with it.
 *
 * @example
 * ```ts
 * new WorkerPool({ queue, routes, logger: escapingLogger });
 * ```
 */
export const escapingLogger: Logger = {
  warn: (meta, message) => console.warn(multiline(formatLogLine('warn', meta, message))),
  info: (meta, message) => console.info(multiline(formatLogLine('info', meta, message))),
};
