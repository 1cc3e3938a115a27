/**
 * Redis-style glob patterns (`*`, `?`, `[abc]`, `[^a-z]`, `\x`), matched against whole keys. Redis semantics
 * differ from file globs (`*` crosses `/`, no braces or extglobs), so general glob libraries do not fit.
 */

export interface KeyPattern {
  /** The literal text before the first glob character: only keys with this prefix can match. */
  prefix: string;
  /** Null when the pattern has no glob character, which API.md defines as a prefix match. */
  regex: RegExp | null;
}

const META = /[*?[\\]/;

export function compilePattern(pattern: string): KeyPattern {
  if (!META.test(pattern)) return { prefix: pattern, regex: null };
  let prefix = "";
  let literal = true;
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") {
      literal = false;
      re += "[\\s\\S]*";
    } else if (c === "?") {
      literal = false;
      re += "[\\s\\S]";
    } else if (c === "\\" && i + 1 < pattern.length) {
      const next = pattern[++i]!;
      if (literal) prefix += next;
      re += escapeRegex(next);
    } else if (c === "[") {
      literal = false;
      const end = classEnd(pattern, i);
      if (end < 0) {
        re += "\\["; // an unclosed bracket is a literal, as in Redis
        continue;
      }
      let body = pattern.slice(i + 1, end);
      let negate = false;
      if (body.startsWith("^")) {
        negate = true;
        body = body.slice(1);
      }
      re += `[${negate ? "^" : ""}${classBody(body)}]`;
      i = end;
    } else {
      if (literal) prefix += c;
      re += escapeRegex(c);
    }
  }
  return { prefix, regex: new RegExp(re + "$", "u") };
}

function classEnd(p: string, start: number): number {
  for (let i = start + 1; i < p.length; i++) {
    if (p[i] === "\\") i++;
    else if (p[i] === "]" && i > start + 1) return i;
  }
  return -1;
}

function classBody(body: string): string {
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === "\\" && i + 1 < body.length) out += escapeClass(body[++i]!);
    else if (c === "-" && out.length > 0 && i + 1 < body.length) out += "-";
    else out += escapeClass(c);
  }
  return out;
}

function escapeRegex(c: string) {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function escapeClass(c: string) {
  return c.replace(/[\]\\^-]/g, "\\$&");
}

/** True when `key` matches the compiled pattern. */
export function matches(p: KeyPattern, key: string): boolean {
  return key.startsWith(p.prefix) && (p.regex === null || p.regex.test(key));
}
