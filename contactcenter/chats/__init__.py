"""Web chat in the core: chat sessions, their guided intake, live routing and hand-off."""
