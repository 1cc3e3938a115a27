/**
 * Postgres text-format values → `SqlValue`, chosen by column type OID. The pool is told to parse nothing, so
 * every value arrives as the text Postgres printed and is converted here in one place: integers exact
 * (bigint), numeric as printed, bytea decoded, json kept as text, dates/times as ISO 8601, arrays as JSON.
 * Types not listed stay as the text Postgres printed — never null.
 */
import { stringifyExact } from "../../../shared/exact-json.js";
import type { SqlValue } from "../backend.js";
import { jsonOfValue } from "../values.js";

export type Convert = (text: string) => SqlValue;

const text: Convert = (t) => t;
const int: Convert = (t) => BigInt(t);
// Number() reads Postgres's "NaN", "Infinity" and "-Infinity" as well.
const float: Convert = (t) => Number(t);
const bool: Convert = (t) => t === "t";
const decimal: Convert = (t) => ({ decimal: t });
const json: Convert = (t) => ({ json: t });
const datetime: Convert = (t) => ({ datetime: isoOf(t) });
// The pool sets bytea_output=hex, so the escape format never shows up.
const bytea: Convert = (t) => Buffer.from(t.slice(2), "hex");

/** Postgres ISO-style output → ISO 8601: a `T` between date and time, and `+hh:mm` offsets. */
export function isoOf(t: string): string {
  let s = /^\d{4,}-\d\d-\d\d \d/.test(t) ? t.replace(" ", "T") : t;
  // Only after a time of day: a bare date such as 2024-02-29 also ends in "-dd".
  s = s.replace(/(\d\d:\d\d(?::\d\d(?:\.\d+)?)?[+-]\d\d)$/, "$1:00");
  return s;
}

const scalars = new Map<number, Convert>([
  [16, bool],
  [17, bytea],
  [20, int],
  [21, int],
  [23, int],
  [26, int],
  [700, float],
  [701, float],
  [1700, decimal],
  [114, json],
  [3802, json],
  [1082, datetime],
  [1083, datetime],
  [1114, datetime],
  [1184, datetime],
  [1266, datetime],
  [1186, datetime],
]);

/** Array type OID → element converter. */
const arrays = new Map<number, Convert>([
  [1000, bool],
  [1001, bytea],
  [1005, int],
  [1007, int],
  [1016, int],
  [1028, int],
  [1021, float],
  [1022, float],
  [1231, decimal],
  [199, json],
  [3807, json],
  [1182, datetime],
  [1183, datetime],
  [1115, datetime],
  [1185, datetime],
  [1270, datetime],
  [1187, datetime],
  [1009, text],
  [1015, text],
  [1014, text],
  [2951, text],
  [1041, text],
  [651, text],
]);

export function converterFor(oid: number): Convert {
  const scalar = scalars.get(oid);
  if (scalar) return scalar;
  const element = arrays.get(oid);
  if (!element) return text;
  return arrayOf(element);
}

/** Whether `converterFor` knows the type; other types (enums, their arrays, extensions) are looked up. */
export function isBuiltin(oid: number): boolean {
  return scalars.has(oid) || arrays.has(oid);
}

/** The converter of an array type whose element type and delimiter were read from pg_type. */
export function arrayOf(element: Convert, delimiter = ","): Convert {
  return (t) => ({ json: stringifyExact(mapNested(parseArray(t, delimiter), (e) => jsonOfValue(element(e)))) });
}

type Nested = Array<string | null | Nested>;

function mapNested(a: Nested, f: (s: string) => unknown): unknown[] {
  return a.map((x) => (x === null ? null : typeof x === "string" ? f(x) : mapNested(x, f)));
}

/** Parses a Postgres array literal such as `{1,NULL,"a \"b\""}` or `{{1,2},{3,4}}` into nested strings. */
export function parseArray(literal: string, delimiter = ","): Nested {
  // Arrays with non-default bounds print as `[0:1]={…}`; the bounds carry no values.
  let i = literal.startsWith("[") ? literal.indexOf("=") + 1 : 0;
  const parseLevel = (): Nested => {
    const out: Nested = [];
    i++; // "{"
    if (literal[i] === "}") {
      i++;
      return out;
    }
    for (;;) {
      if (literal[i] === "{") out.push(parseLevel());
      else if (literal[i] === '"') {
        let s = "";
        for (i++; literal[i] !== '"'; i++) {
          if (literal[i] === "\\") i++;
          s += literal[i];
        }
        i++;
        out.push(s);
      } else {
        const start = i;
        while (literal[i] !== delimiter && literal[i] !== "}") i++;
        const raw = literal.slice(start, i);
        out.push(raw === "NULL" ? null : raw);
      }
      if (literal[i++] === "}") return out;
    }
  };
  return parseLevel();
}
