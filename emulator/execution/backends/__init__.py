"""Backends start and stop an instance's server and say where it listens. Everything above them
(instance, pool, invocation) is shared by Docker and the process backend."""
