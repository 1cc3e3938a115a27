/** Email backends by URL scheme, imported lazily so `memory://` never loads nodemailer. */
import { schemeOf, unsupportedScheme } from "../../shared/url.js";
import type { EmailBackend } from "./backend.js";

export const EMAIL_SCHEMES = ["memory", "smtp", "smtps"] as const;

export async function openEmailBackend(url: string): Promise<EmailBackend> {
  switch (schemeOf(url)) {
    case "memory":
      return new (await import("./backends/memory.js")).MemoryEmail();
    case "smtp":
    case "smtps":
      return (await import("./backends/smtp.js")).SmtpEmail.open(url);
    default:
      throw unsupportedScheme("email", url, EMAIL_SCHEMES);
  }
}
