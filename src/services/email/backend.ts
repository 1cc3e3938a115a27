/**
 * The email backend interface: a validated message in, a message id (or a catalogue error) out. SMTP refusals
 * are BAD_GATEWAY carrying the server's reply; an unreachable server is UNAVAILABLE.
 */
export interface OutgoingAttachment {
  filename: string;
  content: Uint8Array;
  contentType: string;
}

export interface OutgoingEmail {
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  text: string;
  html: string;
  replyTo: string;
  headers: Record<string, string>;
  attachments: OutgoingAttachment[];
}

export interface SendOutcome {
  messageId: string;
  accepted: string[];
  rejected: string[];
}

export interface CapturedEmail {
  messageId: string;
  email: OutgoingEmail;
  sentAt: string;
}

export interface EmailBackend {
  readonly name: string;
  send(email: OutgoingEmail): Promise<SendOutcome>;
  /** Only the memory backend captures; others leave these undefined. */
  outbox?(): CapturedEmail[];
  clearOutbox?(): number;
  ping(): Promise<void>;
  close(): Promise<void>;
}
