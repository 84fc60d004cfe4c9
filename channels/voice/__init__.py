"""Voice over Twilio Programmable Voice: steering live calls and the agents' browser phones."""
