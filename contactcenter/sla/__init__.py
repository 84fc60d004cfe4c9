"""Service levels: business-hours calendars and SLA clocks."""
