/** The email service as a sidecar module: `--email`, `EMAIL_URL`, `--email-batch-concurrency`. */
import { EmailService } from "../../../gen/mikcar/email/v1/email_pb.js";
import { emailRoutes } from "./rest.js";
import { serviceInstance, type ServiceInstance, type ServiceModule } from "../module.js";
import type { EmailBackend } from "./backend.js";
import { EMAIL_SCHEMES, openEmailBackend } from "./registry.js";
import { createEmailService, type EmailServiceOptions } from "./service.js";

export function emailInstance(backend: EmailBackend, opts: EmailServiceOptions = {}): ServiceInstance {
  const impl = createEmailService(backend, opts);
  return serviceInstance(EmailService, impl, emailRoutes(impl), backend);
}

export const emailModule: ServiceModule = {
  name: "email",
  summary: "send email over SMTP (smtp, smtps; memory captures for development)",
  defaultUrl: "memory://",
  schemes: EMAIL_SCHEMES,
  options: {
    "batch-concurrency": {
      type: "string",
      env: "EMAIL_BATCH_CONCURRENCY",
      description: "emails of a batch sent at once",
      default: "8",
    },
  },
  async open(url, ctx) {
    const raw = String(ctx.options["batch-concurrency"] ?? "8");
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 1 || n > 256) throw new Error(`--email-batch-concurrency must be an integer 1-256, got ${JSON.stringify(raw)}`);
    return emailInstance(await openEmailBackend(url), { batchConcurrency: n });
  },
};
