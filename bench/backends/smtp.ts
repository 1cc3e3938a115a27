/**
 * The tests' SMTP server (smtp-server, plain, no AUTH) in its own process for the email bench. Received
 * messages are counted, not kept, so a long run does not grow.
 */
import { startSmtp } from "../../test/email/smtp-server.js";

const smtp = await startSmtp();
setInterval(() => (smtp.received.length = 0), 1000).unref();
console.log(`listening ${smtp.port}`);
process.once("SIGTERM", () => void smtp.close().finally(() => process.exit(0)));
