"""Deciding where a case goes (department today; queues and agents in the routing issue)."""
