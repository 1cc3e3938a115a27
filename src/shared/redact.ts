/**
 * The one way credentials are hidden before text reaches a log line, an error message or a client: the user
 * and password of a URL, and query parameters that look like secrets, become `***`.
 */

const SECRET_PARAM = /secret|password|passwd|token|key|credential/i;
const USERINFO = /\/\/[^/@\s]*@/g;

/** A URL safe to show: user, password and secret-looking query parameters replaced by `***`. */
export function redactUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return redactText(raw);
  }
  // One mark for the whole user-info part, so that even its length is not shown.
  if (u.username || u.password) {
    u.username = "***";
    u.password = "";
  }
  for (const k of [...u.searchParams.keys()]) if (SECRET_PARAM.test(k)) u.searchParams.set(k, "***");
  return u.toString();
}

/** Any text with the credentials of the URLs inside it replaced (`redis://u:p@host` → `redis://***@host`). */
export function redactText(text: string): string {
  return text.replace(USERINFO, "//***@");
}
