import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Ora } from 'ora';
import { environment } from '../core/errors.js';

export type LogFormat = 'text' | 'json';

/** Where Output.event puts a text line: see there. */
export type TextChannel = 'note' | 'error' | 'line';

/** The few styles the CLI uses; plain text when colour is off, so chalk loads only on a terminal. */
export interface Colors {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

const plainText = (text: string): string => text;
const PLAIN: Colors = { bold: plainText, dim: plainText, red: plainText, green: plainText, yellow: plainText, cyan: plainText };

export interface OutputOptions {
  json?: boolean;
  logFormat?: LogFormat;
  quiet?: boolean;
  verbose?: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  env?: NodeJS.ProcessEnv;
}

/**
 * Everything the CLI shows goes through here. Results go to stdout, progress and logs to stderr.
 * Colour only on a terminal and never with NO_COLOR or FORCE_COLOR=0; spinners only when stderr is a terminal.
 */
export class Output {
  readonly json: boolean;
  readonly logFormat: LogFormat;
  readonly quiet: boolean;
  readonly verbose: boolean;
  color: Colors;
  readonly interactive: boolean;
  private readonly spinnerColour: boolean;
  private readonly stdout: NodeJS.WriteStream;
  private readonly stderr: NodeJS.WriteStream;

  static async create(options: OutputOptions = {}): Promise<Output> {
    const output = new Output(options);
    if (output.colourWanted) {
      const { Chalk } = await import('chalk');
      output.color = new Chalk({ level: 1 });
    }
    return output;
  }

  private readonly colourWanted: boolean;

  constructor(options: OutputOptions = {}) {
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.json = options.json ?? false;
    this.logFormat = options.logFormat ?? 'text';
    this.quiet = options.quiet ?? false;
    this.verbose = options.verbose ?? false;
    const env = options.env ?? process.env;
    // NO_COLOR counts when it is set to something (no-color.org: an empty value does not); FORCE_COLOR=0
    // (or false) is the other common way to say "no colour" (chalk, Node itself).
    const colourOff = (env.NO_COLOR !== undefined && env.NO_COLOR !== '') || env.TERM === 'dumb' || env.FORCE_COLOR === '0' || env.FORCE_COLOR === 'false';
    this.colourWanted = !this.json && this.stdout.isTTY === true && !colourOff;
    this.color = PLAIN;
    // A terminal that reports no width makes a spinner's redraw arithmetic divide by zero.
    const width = this.stderr.columns ?? 0;
    this.interactive = this.stderr.isTTY === true && width > 0 && !this.quiet && this.logFormat === 'text' && env.CI === undefined && env.TERM !== 'dumb';
    this.spinnerColour = !colourOff;
  }

  /** A result line on stdout (not with --quiet or --json). */
  line(text = ''): void {
    if (!this.quiet && !this.json) this.stdout.write(`${text}\n`);
  }

  /** The JSON document of a --json command. */
  data(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** A note on stderr, for people; never with --quiet. */
  note(text: string): void {
    if (!this.quiet) this.stderr.write(`${text}\n`);
  }

  /** An error line on stderr; --quiet never hides it. */
  error(text: string): void {
    this.stderr.write(`${text}\n`);
  }

  /**
   * An outcome worth a log line. Text: `text` on stdout (errors on stderr, after "es: ").
   * JSON log format: one JSON object on stderr with the fields, whatever the level.
   */
  report(level: 'info' | 'warn' | 'error', text: string, fields: Record<string, unknown> = {}): void {
    if (this.logFormat === 'json') {
      if (this.quiet && level !== 'error') return;
      // eslint-disable-next-line no-control-regex
      const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
      this.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg: plain, ...fields })}\n`);
    } else if (level === 'error') {
      this.error(`es: ${text}`);
    } else {
      this.line(text);
    }
  }

  /**
   * Something that happened, said once for both log formats. With --log-format json, a JSON log line
   * (as report()). In text, `mark` (a coloured ✔, ! or ■; none for plain news) and the text, on the
   * channel given: 'note' on stderr, which --quiet hides (the default); 'error' on stderr, which it
   * does not; 'line' on stdout, as a result line (not with --quiet or --json).
   */
  event(level: 'info' | 'warn' | 'error', text: string, fields: Record<string, unknown>, mark = '', channel: TextChannel = 'note'): void {
    if (this.logFormat === 'json') return this.report(level, text, fields);
    const said = mark ? `${mark} ${text}` : text;
    if (channel === 'error') this.error(said);
    else if (channel === 'line') this.line(said);
    else this.note(said);
  }

  /**
   * Results too large to hold (`es read`), written chunk by chunk at the reader's pace: each write
   * waits while stdout's buffer is full, and says false once the reader has gone (EPIPE: `| head`),
   * the quiet end of such a command.
   */
  resultStream(): ResultStream {
    return new ResultStream(this.stdout);
  }

  async spinner(text: string): Promise<Ora | null> {
    if (!this.interactive) return null;
    const { default: ora } = await import('ora');
    return ora({ text, stream: this.stderr, discardStdin: false, color: this.spinnerColour ? 'cyan' : false }).start();
  }

  table(headers: string[], rows: string[][], align: ('left' | 'right')[] = []): void {
    // eslint-disable-next-line no-control-regex
    const plain = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => plain(r[i] ?? '').length)));
    const pad = (cell: string, i: number): string => {
      const gap = ' '.repeat((widths[i] ?? 0) - plain(cell).length);
      return align[i] === 'right' ? gap + cell : cell + gap;
    };
    this.line(this.color.bold(headers.map(pad).join('  ').trimEnd()));
    for (const row of rows) this.line(row.map(pad).join('  ').trimEnd());
  }
}

export class ResultStream {
  private gone = false;
  private failure: Error | null = null;

  constructor(private readonly stream: NodeJS.WriteStream) {
    // Stays attached: after EPIPE, Node may report the closed pipe again, and an unheard 'error' would crash.
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') this.gone = true;
      // A full disk or a broken device: the output is incomplete, which the caller must learn (exit 3).
      else this.failure ??= environment(`cannot write the output: ${error.message}`, error);
    });
  }

  /** False once the reader has gone; nothing more need be written. */
  async write(text: string): Promise<boolean> {
    if (!this.gone && !this.failure) {
      if (this.stream.write(text)) await nextTurn();
      else await this.drained();
    }
    if (this.failure) throw this.failure;
    return !this.gone;
  }

  /** Drained, or failed: a turn of the event loop also lets a pending 'error' (EPIPE) arrive. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.stream.off('drain', done);
        this.stream.off('close', done);
        this.stream.off('error', done);
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('close', done);
      this.stream.on('error', done);
    });
  }
}

/**
 * Text from the log (stream ids, types, error messages) for a terminal or a log: control characters
 * (ESC, CR, NUL…), line and paragraph separators and bidirectional overrides are shown as escapes,
 * so an id cannot move the cursor, recolour the screen or fake a line. JSON output escapes by itself.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return ESCAPES[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
  });
}

// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * 1,234,567. Not toLocaleString: its first call loads ICU's number formatting, some 30 ms of every
 * command's start (a third of `es project status`).
 */
export const formatCount = (n: number): string => (Number.isSafeInteger(n) ? String(n).replace(/\B(?=(\d{3})+$)/g, ',') : n.toLocaleString('en-US'));

export const plural = (n: number, word: string): string => `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`;

/** 250ms, 12.3s, 2m0s, 3h0m5s. Rounded before it is split, so no `1m60s`. */
export function formatDuration(ms: number): string {
  if (ms < 999.5) return `${Math.round(ms)}ms`;
  if (ms < 59_950) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  const hours = Math.floor(s / 3600);
  const rest = `${Math.floor((s % 3600) / 60)}m${s % 60}s`;
  return hours > 0 ? `${hours}h${rest}` : rest;
}

/** An age for a table, in the largest unit that reads well: 0.3s, 45.2s, 12m 5s, 3h 20m, 330d 3h. */
export function formatAge(seconds: number): string {
  if (seconds < 59.95) return `${Math.max(0, seconds).toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

export function formatRate(count: number, ms: number): string {
  if (ms <= 0 || count === 0) return '';
  return `${formatCount(Math.round((count * 1000) / ms))}/s`;
}
