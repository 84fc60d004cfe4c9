"""The email channel: SMTP listener, inbound-parse webhook, MIME parsing and outbound mail."""
