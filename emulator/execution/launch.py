"""The command line that starts an instance's agent, the same on both backends: the Docker backend
passes the interpreter inside the runtime's image and /var/fc/runtime, the process backend the
interpreter it found on the host (interpreters.py) and its own copy of runtimes/."""
from __future__ import annotations

from emulator.execution import catalog, dotnet_agent, java_agent
from emulator.execution.spec import InstanceSpec


def agent_command(spec: InstanceSpec, interpreter: str, runtimes_dir: str) -> list[str]:
    """The agent's argv for a built-in runtime; custom runtimes run `spec.command` instead."""
    kind = spec.kind
    if kind == catalog.PYTHON:
        return [interpreter, "-W", "ignore", f"{runtimes_dir}/python/agent.py"]
    if kind == catalog.NODEJS:
        argv = [interpreter, f"--max-old-space-size={spec.memory_mb}", f"{runtimes_dir}/nodejs/agent.js"]
        if spec.runtime != "nodejs4.4":  # big x-fc-http-params headers: Node 6-12 read 8-16 KB otherwise; Node 4
            argv.insert(1, "--max-http-header-size=262144")  # has no such flag (it reads 80 KB)
        return argv
    if kind == catalog.GO1:  # the runtime-API bridge, which starts the user's binary (runtimes.md §11)
        return [interpreter, "-W", "ignore", f"{runtimes_dir}/go1/bridge.py"]
    if kind == catalog.JAVA:  # the agent compiled by java_agent.py; JVM flags as FC's agent.sh (runtimes.md §12.1)
        return [interpreter, *java_agent.heap_flags(spec.memory_mb), "-XX:+UseSerialGC", "-Xshare:auto",
                "-Djava.security.egd=file:/dev/./urandom", "-Dfile.encoding=UTF-8",
                "-Dsun.jnu.encoding=UTF-8", "-Dsun.net.httpserver.idleInterval=3600",
                "-Dsun.net.httpserver.nodelay=true",  # headers and body are two writes: no 40 ms Nagle wait
                "-cp", f"{runtimes_dir}/{java_agent.CLASSES}", java_agent.MAIN]
    if kind == catalog.DOTNET:  # agent.sh sets FC's library path and ICU, then runs `dotnet` on the agent's host
        return ["/bin/sh", f"{runtimes_dir}/{dotnet_agent.LAUNCHER}", interpreter]
    if kind == catalog.PHP:  # FC's agent has its own php.ini (runtimes.md §13.1); the agent raises memory_limit
        return [interpreter, "-c", f"{runtimes_dir}/php/php.ini", f"{runtimes_dir}/php/agent.php"]
    raise ValueError(f"no agent for runtime {spec.runtime}")


def not_runnable_message(runtime: str) -> str:
    return (f"the runtime '{runtime}' cannot run in fc-emulator yet: its agent is not part of this version "
            f"(see the README's runtime table)")
