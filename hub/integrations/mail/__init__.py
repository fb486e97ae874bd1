"""Mail servers: the IMAP client that syncs mailboxes, the SMTP client that sends, and the
tracking pixel and click redirect that mail clients hit."""
