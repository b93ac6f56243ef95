import { SkqError } from '@skq/core';

/** One flag a command accepts. */
export interface FlagSpec {
  name: string;
  short?: string;
  /** `boolean`: no value; `value`: one value; `list`: one or more values up to the next flag. */
  kind: 'boolean' | 'value' | 'list';
  description: string;
  placeholder?: string;
}

export type ParsedFlags = Record<string, string | string[] | boolean>;

/** A usage error: the CLI prints the command's usage and exits with status 2. */
export class UsageError extends SkqError {
  constructor(message: string) {
    super('CONFIG_INVALID', message);
  }
}

/**
 * Parses `-r foo bar -f a.ts --concurrency 4` style arguments: list flags take every
 * following word up to the next flag, as in `skunq work -q demo -r foo bar`.
 */
export function parseFlags(argv: string[], specs: FlagSpec[]): ParsedFlags {
  const byName = new Map<string, FlagSpec>();
  for (const spec of specs) {
    byName.set(`--${spec.name}`, spec);
    if (spec.short) byName.set(`-${spec.short}`, spec);
  }
  const flags: ParsedFlags = {};
  for (let i = 0; i < argv.length; i += 1) {
    let word = argv[i]!;
    let inline: string | undefined;
    const eq = word.indexOf('=');
    if (word.startsWith('--') && eq > 0) {
      inline = word.slice(eq + 1);
      word = word.slice(0, eq);
    }
    const spec = byName.get(word);
    if (!spec) throw new UsageError(word.startsWith('-') ? `unknown option ${word}` : `unexpected argument "${word}"`);
    if (spec.kind === 'boolean') {
      if (inline !== undefined) throw new UsageError(`--${spec.name} takes no value`);
      flags[spec.name] = true;
      continue;
    }
    const values: string[] = inline !== undefined ? [inline] : [];
    while (i + 1 < argv.length && !isFlag(argv[i + 1]!) && (spec.kind === 'list' || values.length === 0)) values.push(argv[++i]!);
    if (values.length === 0) throw new UsageError(`${word} needs a value`);
    if (spec.kind === 'value') {
      if (flags[spec.name] !== undefined) throw new UsageError(`${word} was given twice`);
      flags[spec.name] = values[0]!;
    } else {
      flags[spec.name] = [...((flags[spec.name] as string[] | undefined) ?? []), ...values];
    }
  }
  return flags;
}

function isFlag(word: string): boolean {
  return /^-{1,2}[A-Za-z]/.test(word);
}

/** The usage text of a command. */
export function usage(command: string, summary: string, specs: FlagSpec[]): string {
  const lines = specs.map((s) => {
    const names = [s.short ? `-${s.short}` : null, `--${s.name}`].filter(Boolean).join(', ');
    const value = s.kind === 'boolean' ? '' : s.kind === 'list' ? ` <${s.placeholder ?? 'value'}...>` : ` <${s.placeholder ?? 'value'}>`;
    return `  ${(names + value).padEnd(34)} ${s.description}`;
  });
  return `Usage: skunq ${command} [options]\n\n${summary}\n\nOptions:\n${lines.join('\n')}\n  ${'-h, --help'.padEnd(34)} Show this help\n`;
}
