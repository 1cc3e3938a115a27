/**
 * Redis glob patterns (KEYS, SCAN MATCH), matched against whole keys: `*` any run of characters (`/` included),
 * `?` one character, `[abc]`, `[^abc]`, `[a-z]` (ends in either order), `\x` the literal x. File-glob libraries
 * such as picomatch do not fit: their `*` stops at `/`, and braces, extglobs and `[!…]` mean something else.
 *
 * The pattern is parsed once into one-character tokens and stars and matched directly, not through a regular
 * expression: there is no escaping to get wrong, and a pattern like `*a*a*a*…b` costs at most key × pattern steps
 * instead of backtracking exponentially. Redis's own corner cases are kept (and checked against Redis by
 * test/kv/glob-redis.test.ts): an unclosed `[` takes the rest of the pattern as its set, `[]` matches nothing,
 * `[^]` any character, `[a-]` is the range from `]` to `a` (and leaves the set open), and a trailing `\` is a
 * literal backslash. Redis compares bytes; here a character is a Unicode code point, on every backend alike
 * (Redis's MATCH only narrows a scan to the literal prefix).
 */

export interface KeyPattern {
  /** The literal text before the first glob character: only keys with this prefix can match. */
  prefix: string;
  /** The full-key test; null when the pattern has no glob character, which API.md defines as a prefix match. */
  match: ((key: string) => boolean) | null;
}

/** One character (code point) of the key: a literal, any (`?`), or a set of inclusive ranges (`[...]`). */
type One =
  | { kind: "literal"; cp: number }
  | { kind: "any" }
  | { kind: "set"; negate: boolean; ranges: Array<[number, number]> };
type Token = One | { kind: "star" };

const META = /[*?[\\]/;
const [STAR, QUESTION, OPEN, CLOSE, BACKSLASH, CARET, DASH] = [..."*?[]\\^-"].map((c) => c.codePointAt(0)!) as number[];

export function compilePattern(pattern: string): KeyPattern {
  if (!META.test(pattern)) return { prefix: pattern, match: null };
  const tokens = parse(Array.from(pattern, (c) => c.codePointAt(0)!));
  let prefix = "";
  for (const t of tokens) {
    if (t.kind !== "literal") break;
    prefix += String.fromCodePoint(t.cp);
  }
  return { prefix, match: (key) => matchTokens(tokens, key) };
}

function parse(p: number[]): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === STAR) {
      if (tokens.at(-1)?.kind !== "star") tokens.push({ kind: "star" }); // "**" is "*"
    } else if (c === QUESTION) {
      tokens.push({ kind: "any" });
    } else if (c === BACKSLASH) {
      tokens.push({ kind: "literal", cp: i + 1 < p.length ? p[++i]! : BACKSLASH });
    } else if (c === OPEN) {
      i = parseSet(p, i + 1, tokens);
    } else {
      tokens.push({ kind: "literal", cp: c });
    }
  }
  return tokens;
}

/** Parses a set starting after its `[`, pushes it, and returns the index of its `]` (or the pattern's end). */
function parseSet(p: number[], start: number, tokens: Token[]): number {
  let i = start;
  const negate = p[i] === CARET;
  if (negate) i++;
  const ranges: Array<[number, number]> = [];
  for (; i < p.length; i++) {
    const c = p[i]!;
    if (c === BACKSLASH && i + 1 < p.length) {
      const e = p[++i]!;
      ranges.push([e, e]);
    } else if (c === CLOSE) {
      break;
    } else if (i + 2 < p.length && p[i + 1] === DASH) {
      const end = p[i + 2]!;
      ranges.push(c <= end ? [c, end] : [end, c]);
      i += 2;
    } else {
      ranges.push([c, c]);
    }
  }
  tokens.push({ kind: "set", negate, ranges });
  return i;
}

function matchesOne(t: One, cp: number): boolean {
  if (t.kind === "literal") return t.cp === cp;
  if (t.kind === "any") return true;
  let inSet = false;
  for (const [lo, hi] of t.ranges) {
    if (cp >= lo && cp <= hi) {
      inSet = true;
      break;
    }
  }
  return inSet !== t.negate;
}

/**
 * Every token but a star takes exactly one character, so on a mismatch it is enough to let the most recent star
 * take one more character and retry from just after it: earlier stars never need to give anything back.
 */
function matchTokens(tokens: Token[], key: string): boolean {
  let ti = 0;
  let ki = 0;
  let starToken = -1;
  let starKey = 0;
  while (ki < key.length) {
    const t = tokens[ti];
    if (t?.kind === "star") {
      starToken = ti++;
      starKey = ki;
      continue;
    }
    const cp = key.codePointAt(ki)!;
    if (t !== undefined && matchesOne(t, cp)) {
      ti++;
      ki += cp > 0xffff ? 2 : 1;
      continue;
    }
    if (starToken < 0) return false;
    ti = starToken + 1;
    starKey += key.codePointAt(starKey)! > 0xffff ? 2 : 1;
    ki = starKey;
  }
  while (tokens[ti]?.kind === "star") ti++;
  return ti === tokens.length;
}
