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
 * following word up to the next flag, as in `skunq work -q demo -r foo bar`. `idCommand` (`jobs show`)
 * marks an action that takes an id, for the hint on an unknown option.
 */
export function parseFlags(argv: string[], specs: FlagSpec[], idCommand?: string): ParsedFlags {
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
    if (!spec && !word.startsWith('-')) throw new UsageError(`unexpected argument "${word}"`);
    // The word may be an id the user meant: say how to give one that starts with "-".
    if (!spec) throw new UsageError(`unknown option ${word}${idCommand ? ` (an id that starts with "-" goes after --: skunq ${idCommand} -- ${word})` : ''}`);
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

/**
 * The id an action names and the flags after it: `show abc -q demo`, or, for an id that starts with
 * `-` and would read as an option, after `--` (`show -q demo -- -abc`). `command` names the action
 * in the hint printed when such an id was taken for an option.
 */
export function parseIdAndFlags(argv: string[], specs: FlagSpec[], command: string): { id: string | undefined; flags: ParsedFlags } {
  const leading = argv[0] !== undefined && !argv[0].startsWith('-') ? argv[0] : undefined;
  const words = leading === undefined ? argv : argv.slice(1);
  const end = words.indexOf('--');
  const after = end < 0 ? [] : words.slice(end + 1);
  if (end >= 0 && (after.length !== 1 || leading !== undefined)) {
    throw new UsageError(`give one id, either first or alone after --, got ${[leading, ...after].filter((w) => w !== undefined).map((w) => `"${w}"`).join(', ') || 'none'}`);
  }
  const flagWords = end < 0 ? words : words.slice(0, end);
  return { id: leading ?? after[0], flags: parseFlags(flagWords, specs, command) };
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
