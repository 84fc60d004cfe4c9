"""Voice IVR flows for 3-1-1 calls (built in the voice issue)."""
