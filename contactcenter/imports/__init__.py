"""Service-request history in and out, in the column layouts cities publish (New York's 311)."""
