/**
 * Order of strings by their UTF-8 bytes (the order S3, lmdb and our listings use), computed on the UTF-16 code
 * units without encoding: it costs no allocation, where `Buffer.compare(Buffer.from(a), Buffer.from(b))` makes
 * two buffers per comparison — most of the time of sorting a large listing.
 */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // UTF-16 order is code point order (= UTF-8 byte order) except that surrogates (D800–DFFF, which encode
    // code points from U+10000 up) sort below E000–FFFF: move them above.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

const NEEDS_CARE = /[\ud800-\uffff]/;
const plain = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Sorts `items` in place by the UTF-8 order of `key(item)`. When no key has a code unit from U+D800 up (nearly
 * always), UTF-16 order is the same and the engine's own string comparison does the work.
 */
export function sortByUtf8<T>(items: T[], key: (item: T) => string): T[] {
  const cmp = items.some((i) => NEEDS_CARE.test(key(i))) ? compareUtf8 : plain;
  return items.sort((x, y) => cmp(key(x), key(y)));
}
