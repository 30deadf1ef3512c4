import { formatJsonPath } from './types.js';

/** A JSON syntax problem with its position in the text (1-based line and column). */
export interface JsonSyntaxError {
  message: string;
  offset: number;
  line: number;
  column: number;
  /** JSON path of the value being read when the problem was found (duplicate keys). */
  path?: string;
}

/** The 1-based line and column of an offset in a text. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

class Parser {
  private i = 0;
  constructor(private readonly text: string) {}

  fail(message: string, at = this.i, path?: (string | number)[]): never {
    const { line, column } = lineColumn(this.text, at);
    const error: JsonSyntaxError = { message: `${message} at line ${line}, column ${column}`, offset: at, line, column };
    if (path) error.path = formatJsonPath(path);
    throw error;
  }

  ws(): void {
    while (this.i < this.text.length && ' \t\n\r'.includes(this.text[this.i]!)) this.i++;
  }

  document(): unknown {
    this.ws();
    const value = this.value([]);
    this.ws();
    if (this.i < this.text.length) this.fail(`unexpected ${JSON.stringify(this.text[this.i])} after the end of the document`);
    return value;
  }

  value(path: (string | number)[]): unknown {
    const c = this.text[this.i];
    if (c === undefined) this.fail('unexpected end of text; the document is incomplete');
    if (c === '{') return this.object(path);
    if (c === '[') return this.array(path);
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.text.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    const hint = c === "'" ? ' (JSON strings use double quotes)' : '';
    return this.fail(`unexpected ${JSON.stringify(c)}; expected a value${hint}`);
  }

  object(path: (string | number)[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    this.i++; // {
    this.ws();
    if (this.text[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.text[this.i] !== '"') this.fail(this.text[this.i] === '}' ? 'trailing comma before "}"' : 'expected a "quoted" key');
      const keyAt = this.i;
      const key = this.string();
      if (seen.has(key)) this.fail(`duplicate key ${JSON.stringify(key)} (JSON would keep only the last one)`, keyAt, path);
      seen.add(key);
      this.ws();
      if (this.text[this.i] !== ':') this.fail(`expected ":" after the key ${JSON.stringify(key)}`);
      this.i++;
      this.ws();
      Object.defineProperty(out, key, { value: this.value([...path, key]), enumerable: true, writable: true, configurable: true });
      this.ws();
      const c = this.text[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === '}') {
        this.i++;
        return out;
      }
      this.fail(c === undefined ? 'unexpected end of text; an object is not closed with "}"' : `expected "," or "}" after the value of ${JSON.stringify(key)}`);
    }
  }

  array(path: (string | number)[]): unknown[] {
    const out: unknown[] = [];
    this.i++; // [
    this.ws();
    if (this.text[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.text[this.i] === ']') this.fail('trailing comma before "]"');
      out.push(this.value([...path, out.length]));
      this.ws();
      const c = this.text[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === ']') {
        this.i++;
        return out;
      }
      this.fail(c === undefined ? 'unexpected end of text; an array is not closed with "]"' : 'expected "," or "]" in an array');
    }
  }

  string(): string {
    const start = this.i;
    this.i++; // opening quote
    for (;;) {
      const c = this.text[this.i];
      if (c === undefined) this.fail('unterminated string', start);
      if (c === '"') break;
      if (c === '\\') this.i++;
      else if (c < ' ') this.fail('control character (e.g. a raw line break) inside a string; escape it as \\n');
      this.i++;
    }
    this.i++;
    try {
      return JSON.parse(this.text.slice(start, this.i)) as string;
    } catch {
      return this.fail('invalid escape sequence in a string', start);
    }
  }

  number(): number {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.i));
    if (!m) this.fail('invalid number');
    this.i += m[0].length;
    return Number(m[0]);
  }
}

/**
 * Parses JSON like `JSON.parse`, but rejects duplicate object keys (which `JSON.parse` silently
 * collapses) and reports problems with a line and column. Returns the value or the first problem.
 */
export function parseJsonStrict(text: string): { ok: true; value: unknown } | { ok: false; error: JsonSyntaxError } {
  try {
    return { ok: true, value: new Parser(text).document() };
  } catch (e) {
    if (e && typeof e === 'object' && 'offset' in e) return { ok: false, error: e as JsonSyntaxError };
    throw e;
  }
}

/** A `{{…}}` in a template text. */
export interface PlaceholderOccurrence {
  /** As written, e.g. `{{region}}` or `{{ Region }}`. */
  raw: string;
  /** The name between the braces when it is well-formed (`[a-z][a-z0-9_]*`), else undefined. */
  name: string | undefined;
  start: number;
  end: number;
  line: number;
  column: number;
  /** Inside a JSON string (value or key). */
  inString: boolean;
  /** The placeholder is the whole string: `"{{collector_role_arn}}"`. */
  wholeString: boolean;
  /** Offsets of the enclosing string's quotes (inclusive start, exclusive end) when inString. */
  stringStart: number;
  stringEnd: number;
}

const NAME = /^[a-z][a-z0-9_]*$/;

/**
 * Finds every `{{…}}` in a template text and whether it sits inside a JSON string. Text that does not
 * close (`{{region`) is reported with name undefined. The scan follows JSON string syntax (escapes),
 * so it works on texts that are not valid JSON yet.
 */
export function scanPlaceholders(text: string): PlaceholderOccurrence[] {
  const out: PlaceholderOccurrence[] = [];
  let inString = false;
  let stringStart = -1;
  const pending: PlaceholderOccurrence[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') {
        i++;
        continue;
      }
      if (c === '"' || c === '\n') {
        for (const p of pending) {
          p.stringEnd = i + 1;
          p.wholeString = p.start === stringStart + 1 && p.end === i;
          out.push(p);
        }
        pending.length = 0;
        inString = false;
        continue;
      }
    } else if (c === '"') {
      inString = true;
      stringStart = i;
      continue;
    }
    if (c === '{' && text[i + 1] === '{') {
      // In a string the placeholder ends at "}}" before the closing quote; outside, at "}}" on the same line.
      let j = i + 2;
      while (j < text.length && !(text[j] === '}' && text[j + 1] === '}') && text[j] !== '"' && text[j] !== '\\' && text[j] !== '\n' && !(text[j] === '{' && text[j + 1] === '{')) j++;
      const closed = text[j] === '}' && text[j + 1] === '}';
      const end = closed ? j + 2 : j;
      const inner = text.slice(i + 2, closed ? j : j);
      const { line, column } = lineColumn(text, i);
      const occurrence: PlaceholderOccurrence = {
        raw: text.slice(i, end),
        name: closed && NAME.test(inner) ? inner : undefined,
        start: i,
        end,
        line,
        column,
        inString,
        wholeString: false,
        stringStart: inString ? stringStart : -1,
        stringEnd: -1,
      };
      if (inString) pending.push(occurrence);
      else out.push(occurrence);
      i = end - 1;
    }
  }
  out.push(...pending); // an unterminated string: keep what was found
  return out.sort((a, b) => a.start - b.start);
}
