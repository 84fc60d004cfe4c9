"""SMS over Twilio Programmable Messaging."""
