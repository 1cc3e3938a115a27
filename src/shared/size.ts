/** Human sizes and durations for CLI options ("5GiB", "512MB", "1048576"; "30", "1.5"). */

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** Bytes in a size like "5GiB" (binary), "5GB" (decimal), "5G" (binary) or a plain byte count. */
export function parseSize(text: string, what: string): number {
  const m = text.trim().match(/^(\d+(?:\.\d+)?)\s*([a-z]*)$/i);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`${what} must be a size such as 1048576, 512MiB or 5GiB, got ${JSON.stringify(text)}`);
  const n = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${what} must be a positive size, got ${JSON.stringify(text)}`);
  return n;
}

/** Milliseconds in a number of seconds ("30", "0.5"); 0 is allowed and means "off" to callers that say so. */
export function parseSeconds(text: string, what: string): number {
  if (!/^\d+(\.\d+)?$/.test(text.trim())) throw new Error(`${what} must be a number of seconds, got ${JSON.stringify(text)}`);
  return Math.round(Number(text) * 1000);
}
