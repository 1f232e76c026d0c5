/** How a command line is shown (plans, dry runs, step logs, failure reasons); never used to run anything. */

export interface FormatOptions {
  /** Fold whitespace inside arguments and cut those longer than this, for one-line progress output. */
  readonly maxArgLength?: number;
}

/** The argv as a shell would read it back: arguments with anything beyond plain characters single-quoted. */
export function formatArgv(argv: readonly string[], opts: FormatOptions = {}): string {
  const max = opts.maxArgLength;
  return argv
    .map((a) => {
      const shown = max === undefined ? a : cut(a.replace(/\s+/g, ' ').trim(), max);
      return /^[\w@%+=:,./{}[\]-]+$/.test(shown) ? shown : `'${shown.replace(/'/g, `'\\''`)}'`;
    })
    .join(' ');
}

const cut = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 3)}...` : text);
