/** The email service as a sidecar module: `--email`, `EMAIL_URL`, `--email-batch-concurrency`. */
import { EmailService } from "../../../gen/mikcar/email/v1/email_pb.js";
import { type ServiceInstance, type ServiceModule, serviceInstance } from "../module.js";
import type { EmailBackend } from "./backend.js";
import { EMAIL_CALLS } from "./calls.js";
import { EMAIL_SCHEMES, openEmailBackend } from "./registry.js";
import { emailRoutes } from "./rest.js";
import { createEmailService, type EmailServiceOptions } from "./service.js";
import { emailResources } from "./resources.js";

/** An email service instance over a backend you opened yourself (library use and tests). */
export function emailInstance(
  backend: EmailBackend,
  opts: EmailServiceOptions = {},
): ServiceInstance<typeof EmailService> {
  return {
    ...serviceInstance(EmailService, createEmailService(backend, opts), emailRoutes, backend),
    resources: emailResources,
  };
}

export const emailModule: ServiceModule = {
  name: "email",
  summary: "send email over SMTP (smtp, smtps; memory captures for development)",
  defaultUrl: "memory://",
  schemes: EMAIL_SCHEMES,
  options: {
    "batch-concurrency": {
      type: "integer",
      min: 1,
      max: 256,
      env: "EMAIL_BATCH_CONCURRENCY",
      description: "emails of a batch sent at once",
      default: 8,
    },
  },
  async open(url, ctx) {
    return emailInstance(ctx.guard(await openEmailBackend(url), EMAIL_CALLS), {
      batchConcurrency: ctx.options["batch-concurrency"] as number,
    });
  },
};
