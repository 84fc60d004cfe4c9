"""Resident satisfaction: the one-question survey sent after a case closes."""
