"""Execution: instances of function versions, the pool that keeps them warm, and the backends
(Docker containers or local processes) that run the runtime agents."""
