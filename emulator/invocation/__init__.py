"""Invocations: the sync call path (and, later, the async queue and records)."""
