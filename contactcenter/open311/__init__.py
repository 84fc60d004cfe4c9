"""Open311 GeoReport v2: the standard public API for filing and following service requests."""
