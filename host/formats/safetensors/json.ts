// A strict JSON parser for safetensors headers. JSON.parse cannot be used: it rounds integers
// above 2^53 (the reference's overflow checks need exact u64 values) and accepts what serde_json
// rejects (lone surrogate escapes, 1.0 or -0 as an unsigned integer, unbounded nesting).
// Non-negative integer literals parse to bigint, every other number to a finite number; objects to
// Maps (duplicate keys: the last wins, as in serde).

// serde_json's recursion limit: 128 nested containers fail, 127 pass.
const JSON_DEPTH_LIMIT = 127;

export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | Map<string, JsonValue>;

export class JsonSyntaxError {
  constructor(readonly reason: string, readonly at: number) {}
}

export function parseJson(text: string): JsonValue {
  let pos = 0;
  const fail = (reason: string, at = pos): never => {
    throw new JsonSyntaxError(reason, at);
  };
  const skipWhitespace = () => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else return;
    }
  };
  const expect = (char: string) => {
    if (text[pos] !== char) fail(pos < text.length ? `expected '${char}', found ${JSON.stringify(text[pos])}` : `expected '${char}', found the end`);
    pos++;
  };

  const value = (depth: number): JsonValue => {
    skipWhitespace();
    const c = text[pos];
    if (c === '{' || c === '[') {
      if (depth >= JSON_DEPTH_LIMIT) fail(`nesting deeper than ${JSON_DEPTH_LIMIT} levels`);
      return c === '{' ? object(depth + 1) : array(depth + 1);
    }
    if (c === '"') return string();
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return v;
      }
    }
    return fail(c === undefined ? 'unexpected end' : `unexpected ${JSON.stringify(c)}`);
  };

  const object = (depth: number): Map<string, JsonValue> => {
    const map = new Map<string, JsonValue>();
    pos++;
    skipWhitespace();
    if (text[pos] === '}') {
      pos++;
      return map;
    }
    for (;;) {
      skipWhitespace();
      if (text[pos] !== '"') fail('expected a string key');
      const key = string();
      skipWhitespace();
      expect(':');
      map.set(key, value(depth));
      skipWhitespace();
      if (text[pos] === ',') pos++;
      else {
        expect('}');
        return map;
      }
    }
  };

  const array = (depth: number): JsonValue[] => {
    const items: JsonValue[] = [];
    pos++;
    skipWhitespace();
    if (text[pos] === ']') {
      pos++;
      return items;
    }
    for (;;) {
      items.push(value(depth));
      skipWhitespace();
      if (text[pos] === ',') pos++;
      else {
        expect(']');
        return items;
      }
    }
  };

  const hex4 = (): number => {
    const digits = text.slice(pos, pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) fail('invalid \\u escape');
    pos += 4;
    return parseInt(digits, 16);
  };

  const string = (): string => {
    const start = pos++;
    let out = '';
    let chunk = pos;
    for (;;) {
      if (pos >= text.length) fail('unterminated string', start);
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(chunk, pos++);
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(chunk, pos);
      const escape = text[pos + 1];
      pos += 2;
      const simple = escape === undefined ? -1 : '"\\/bfnrt'.indexOf(escape);
      if (simple >= 0) {
        out += '"\\/\b\f\n\r\t'[simple];
      } else if (escape === 'u') {
        const unit = hex4();
        if (unit >= 0xdc00 && unit <= 0xdfff) fail('lone trailing surrogate in \\u escape', pos - 6);
        if (unit >= 0xd800 && unit <= 0xdbff) {
          if (text[pos] !== '\\' || text[pos + 1] !== 'u') fail('lone leading surrogate in \\u escape', pos - 6);
          pos += 2;
          const low = hex4();
          if (low < 0xdc00 || low > 0xdfff) fail('lone leading surrogate in \\u escape', pos - 12);
          out += String.fromCharCode(unit, low);
        } else {
          out += String.fromCharCode(unit);
        }
      } else {
        fail('invalid escape', pos - 2);
      }
      chunk = pos;
    }
  };

  const number = (): number | bigint => {
    const start = pos;
    let integer = true;
    if (text[pos] === '-') {
      integer = false; // never an unsigned integer, not even -0
      pos++;
    }
    const digits = () => {
      const from = pos;
      while (text[pos] >= '0' && text[pos] <= '9') pos++;
      if (pos === from) fail('expected a digit');
    };
    if (text[pos] === '0') pos++;
    else digits();
    if (text[pos] === '.') {
      integer = false;
      pos++;
      digits();
    }
    if (text[pos] === 'e' || text[pos] === 'E') {
      integer = false;
      pos++;
      if (text[pos] === '+' || text[pos] === '-') pos++;
      digits();
    }
    const token = text.slice(start, pos);
    // More than 20 digits is above 2^64 anyway; serde_json then falls back to a float, and so do we
    // (which also keeps BigInt parsing of a huge literal off the table).
    if (integer && token.length <= 20) return BigInt(token);
    const x = Number(token);
    if (!Number.isFinite(x)) fail('number out of range', start);
    return x;
  };

  const root = value(0);
  skipWhitespace();
  if (pos < text.length) fail('trailing characters after the JSON value');
  return root;
}

// A short rendering of a JSON value for error messages.
export function show(v: JsonValue): string {
  const render = (x: JsonValue): string => {
    if (x === null) return 'null';
    if (typeof x === 'bigint') return x.toString();
    if (Array.isArray(x)) return `[${x.map(render).join(', ')}]`;
    if (x instanceof Map) return `{${[...x].map(([k, e]) => `${JSON.stringify(k)}: ${render(e)}`).join(', ')}}`;
    return JSON.stringify(x);
  };
  const s = render(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
