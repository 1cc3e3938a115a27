/**
 * Checks an email before any backend sees it, with messages that name the field. Also the guard against header
 * injection: no CR or LF in any address, subject, header or file name.
 */
import type { Email } from "../../../gen/mikcar/email/v1/email_pb.js";
import { sidecarError } from "../../shared/errors.js";
import type { OutgoingEmail } from "./backend.js";

export const LIMITS = {
  recipients: 100,
  subjectChars: 998,
  bodyBytes: 5 * 1024 * 1024,
  attachmentsBytes: 10 * 1024 * 1024,
  attachments: 50,
  headers: 50,
} as const;

// The structure nodemailer builds from the other fields; a caller setting them would break or forge it.
const RESERVED_HEADERS = new Set([
  "from",
  "to",
  "cc",
  "bcc",
  "subject",
  "reply-to",
  "sender",
  "date",
  "mime-version",
  "content-type",
  "content-transfer-encoding",
  "content-disposition",
]);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,76}$/;
const ATOM = `[^\\s@<>()\\[\\]\\\\,;:"]+`;
const ADDR_SPEC = new RegExp(`^${ATOM}@${ATOM}\\.${ATOM}$`);
const NAMED = /^\s*(?:"([^"\r\n]*)"|([^"<>\r\n]*?))\s*<([^<>\s]+)>\s*$/;

const bad = (msg: string) => sidecarError("BAD_REQUEST", msg);

/** Accepts `a@b.example` and `Display Name <a@b.example>`; returns the input as given. */
/** The bare address of `Name <addr>` or `addr` (what a policy's sender globs are matched against). */
export function addressOf(value: string): string {
  const m = NAMED.exec(value);
  return m ? m[3]! : value.trim();
}

export function checkAddress(value: string, field: string): string {
  if (/[\r\n]/.test(value)) throw bad(`${field} must not contain line breaks`);
  const m = NAMED.exec(value);
  const addr = m ? m[3]! : value.trim();
  if (!ADDR_SPEC.test(addr) || addr.length > 254)
    throw bad(`${field} is not a valid email address: ${JSON.stringify(value.slice(0, 100))}`);
  return value.trim();
}

function noBreaks(value: string, field: string) {
  if (/[\r\n]/.test(value)) throw bad(`${field} must not contain line breaks`);
}

export function checkEmail(e: Email): OutgoingEmail {
  if (e.from === "") throw bad("from is required");
  const from = checkAddress(e.from, "from");
  const list = (xs: string[], field: string) => xs.map((x, i) => checkAddress(x, `${field}[${i}]`));
  const to = list(e.to, "to");
  const cc = list(e.cc, "cc");
  const bcc = list(e.bcc, "bcc");
  const n = to.length + cc.length + bcc.length;
  if (n === 0) throw bad("to must name at least one recipient (or give cc or bcc)");
  if (n > LIMITS.recipients) throw bad(`to, cc and bcc name ${n} recipients; the limit is ${LIMITS.recipients}`);
  noBreaks(e.subject, "subject");
  if (e.subject.length > LIMITS.subjectChars)
    throw bad(`subject is ${e.subject.length} characters; the limit is ${LIMITS.subjectChars}`);
  for (const field of ["text", "html"] as const) {
    const bytes = Buffer.byteLength(e[field]);
    if (bytes > LIMITS.bodyBytes) throw bad(`${field} is ${bytes} bytes; the limit is ${LIMITS.bodyBytes}`);
  }
  const replyTo = e.replyTo ? checkAddress(e.replyTo, "reply_to") : "";
  const headers = Object.entries(e.headers);
  if (headers.length > LIMITS.headers)
    throw bad(`headers has ${headers.length} entries; the limit is ${LIMITS.headers}`);
  for (const [k, v] of headers) {
    if (!TOKEN.test(k)) throw bad(`headers: ${JSON.stringify(k.slice(0, 80))} is not a valid header name`);
    if (RESERVED_HEADERS.has(k.toLowerCase()))
      throw bad(`headers.${k} is set from the email's own fields; use them instead`);
    noBreaks(v, `headers.${k}`);
    if (v.length > 998) throw bad(`headers.${k} is longer than 998 characters`);
  }
  if (e.attachments.length > LIMITS.attachments)
    throw bad(`attachments has ${e.attachments.length} entries; the limit is ${LIMITS.attachments}`);
  let total = 0;
  e.attachments.forEach((a, i) => {
    if (a.filename === "" || a.filename.length > 255) throw bad(`attachments[${i}].filename must be 1-255 characters`);
    noBreaks(a.filename, `attachments[${i}].filename`);
    if (a.contentType && !/^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/.test(a.contentType)) {
      throw bad(`attachments[${i}].content_type is not a MIME type: ${JSON.stringify(a.contentType.slice(0, 80))}`);
    }
    noBreaks(a.contentType, `attachments[${i}].content_type`);
    total += a.content.length;
  });
  if (total > LIMITS.attachmentsBytes)
    throw bad(`attachments total ${total} bytes; the limit is ${LIMITS.attachmentsBytes}`);
  return {
    from,
    to,
    cc,
    bcc,
    subject: e.subject,
    text: e.text,
    html: e.html,
    replyTo,
    headers: { ...e.headers },
    attachments: e.attachments.map((a) => ({ filename: a.filename, content: a.content, contentType: a.contentType })),
  };
}
