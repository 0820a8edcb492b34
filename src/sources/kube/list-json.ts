// A list response's JSON text, read one item at a time. `JSON.parse(text)` of a 14 MB list (10,000
// EndpointSlices) builds the whole raw tree at once: it outlives the young generation, is promoted,
// and dies in the old space next to the normalized objects that stay, which leaves tens of MiB of
// fragmented old-space pages that V8 keeps after sync (bench/PROFILE.md 6c). Here only the boundaries
// of the top-level members and of each element of `items` are found (strings and nesting, nothing
// else); every piece is still read by JSON.parse, which validates it, and each item is handed to
// `onItem` and can die young once converted.
// Separators between the pieces are checked here, so the text is accepted exactly when it is valid
// JSON (one difference: a repeated "items" key is refused instead of the last one winning).

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** A list whose text is valid JSON but not a list object (or `items` is not an array). */
export class NotAListError extends Error {
  readonly code = 'SWY_ERR_NOT_A_LIST';
}

/**
 * Calls `onItem` with each element of the top-level `items` array, in order, and returns the other
 * top-level members (`metadata`, `kind`, ...), parsed. Throws SyntaxError for text that is not JSON,
 * NotAListError for JSON that is not an object with an array (or null, or no) `items`.
 */
export function readListJson(text: string, onItem: (item: unknown) => void): Record<string, unknown> {
  let i = skipWhitespace(text, 0);
  if (text.charCodeAt(i) !== OPEN_BRACE) {
    JSON.parse(text); // the SyntaxError for text that is not JSON
    throw new NotAListError('not a JSON object');
  }
  const members: Record<string, unknown> = {};
  let sawItems = false;
  i = skipWhitespace(text, i + 1);
  if (text.charCodeAt(i) !== CLOSE_BRACE) {
    // 1. one member per turn: "key" : value, then a comma (next member) or the closing brace
    for (;;) {
      if (text.charCodeAt(i) !== QUOTE) throw unexpected(text, i);
      const keyEnd = stringEnd(text, i);
      const key = JSON.parse(text.slice(i, keyEnd)) as string;
      i = skipWhitespace(text, keyEnd);
      if (text.charCodeAt(i) !== COLON) throw unexpected(text, i);
      i = skipWhitespace(text, i + 1);
      if (key === 'items') {
        if (sawItems) throw new NotAListError('"items" appears twice');
        sawItems = true;
        if (text.charCodeAt(i) === OPEN_BRACKET) {
          i = readArray(text, i, onItem);
        } else {
          const end = valueEnd(text, i);
          if (JSON.parse(text.slice(i, end)) !== null) throw new NotAListError('"items" is not an array');
          i = end;
        }
      } else {
        const end = valueEnd(text, i);
        members[key] = JSON.parse(text.slice(i, end));
        i = end;
      }
      i = skipWhitespace(text, i);
      const c = text.charCodeAt(i);
      if (c === CLOSE_BRACE) break;
      if (c !== COMMA) throw unexpected(text, i);
      i = skipWhitespace(text, i + 1);
    }
  }
  // 2. nothing but whitespace may follow the object
  if (skipWhitespace(text, i + 1) !== text.length) throw unexpected(text, skipWhitespace(text, i + 1));
  return members;
}

/** Elements of the array at `start` (its "["), each parsed on its own; returns the index after "]". */
function readArray(text: string, start: number, onItem: (item: unknown) => void): number {
  let i = skipWhitespace(text, start + 1);
  if (text.charCodeAt(i) === CLOSE_BRACKET) return i + 1;
  for (;;) {
    const end = valueEnd(text, i);
    onItem(JSON.parse(text.slice(i, end)));
    i = skipWhitespace(text, end);
    const c = text.charCodeAt(i);
    if (c === CLOSE_BRACKET) return i + 1;
    if (c !== COMMA) throw unexpected(text, i);
    i = skipWhitespace(text, i + 1);
  }
}

/** Index after the value that starts at `i`. Only its extent is found: JSON.parse validates it. */
function valueEnd(text: string, i: number): number {
  const first = text.charCodeAt(i);
  if (first === QUOTE) return stringEnd(text, i);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const c = text.charCodeAt(j);
      if (c === QUOTE) {
        j = stringEnd(text, j) - 1;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        depth++;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    throw new SyntaxError('unexpected end of JSON input');
  }
  // a number, true, false or null: up to the next delimiter
  let j = i;
  while (j < text.length) {
    const c = text.charCodeAt(j);
    if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || isWhitespace(c)) break;
    j++;
  }
  if (j === i) throw unexpected(text, i);
  return j;
}

/** Index after the string literal whose opening quote is at `i`. */
function stringEnd(text: string, i: number): number {
  let from = i + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote === -1) throw new SyntaxError('unterminated string in JSON');
    // escaped when an odd number of backslashes precede it
    let before = quote - 1;
    while (text.charCodeAt(before) === BACKSLASH) before--;
    if ((quote - 1 - before) % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

function skipWhitespace(text: string, i: number): number {
  while (i < text.length && isWhitespace(text.charCodeAt(i))) i++;
  return i;
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function unexpected(text: string, i: number): SyntaxError {
  return i >= text.length ? new SyntaxError('unexpected end of JSON input') : new SyntaxError(`unexpected ${JSON.stringify(text[i])} in JSON at position ${i}`);
}
