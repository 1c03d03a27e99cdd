"""The environment of an instance (runtimes.md §1.1, docs/runtime-protocol.md)."""
from __future__ import annotations

from pathlib import Path

from emulator.model.names import is_fc3_service

from emulator.execution.spec import InstanceSpec

# Stand-in STS credentials: there is no RAM here, but code reads these variables.
LOCAL_CREDENTIALS = {"id": "local-access-key-id", "secret": "local-access-key-secret", "token": ""}


def instance_env(spec: InstanceSpec, instance_id: str, *, code_path: str, port: int, host: str = "0.0.0.0",
                 opt_path: str | None = None) -> dict[str, str]:
    env = {
        "LANG": "C.UTF-8",
        "FC_FUNC_CODE_PATH": code_path,
        "FC_SERVER_PORT": str(port),
        "FC_SERVER_HOST": host,
        "FC_CUSTOM_LISTEN_PORT": str(port),
        "FC_ACCOUNT_ID": spec.account,
        "FC_REGION": spec.region,
        "FC_SERVICE_NAME": shown_service(spec),
        "FC_FUNCTION_NAME": spec.function,
        "FC_FUNCTION_HANDLER": spec.handler,
        "FC_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "FC_QUALIFIER": spec.qualifier,
        "FC_INSTANCE_ID": instance_id,
        "FC_RUNTIME": spec.runtime,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": LOCAL_CREDENTIALS["id"],
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": LOCAL_CREDENTIALS["secret"],
        "ALIBABA_CLOUD_SECURITY_TOKEN": LOCAL_CREDENTIALS["token"],
        "accessKeyID": LOCAL_CREDENTIALS["id"],
        "accessKeySecret": LOCAL_CREDENTIALS["secret"],
        "securityToken": LOCAL_CREDENTIALS["token"],
    }
    if opt_path:
        env["FC_EMULATOR_OPT_DIR"] = opt_path
    if spec.kind == "php":  # .ini files in the code's extension/ folder, then PHP's own conf.d (runtimes.md §13.1)
        env["PHP_INI_SCAN_DIR"] = f"{code_path}/extension:"
        env["LD_LIBRARY_PATH"] = f"{code_path}:{code_path}/lib:/usr/local/lib"
    if spec.local_code and spec.kind == "python":  # hot reload: never a stale .pyc of an edited file (a
        # same-size edit within a second keeps the source's stamp); nothing written into the user's folder,
        # none read from it, nor from a cache folder that cannot exist
        env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX="/dev/null/pycache")
    env.update(spec.env)
    return env


def request_headers(spec: InstanceSpec, request_id: str, control_path: str, retry_count: int = 0) -> dict[str, str]:
    """The x-fc-* headers FC sends with every request to an instance (runtimes.md §2.3)."""
    return {
        "x-fc-request-id": request_id,
        "x-fc-access-key-id": LOCAL_CREDENTIALS["id"],
        "x-fc-access-key-secret": LOCAL_CREDENTIALS["secret"],
        "x-fc-security-token": LOCAL_CREDENTIALS["token"],
        "x-fc-function-name": spec.function,
        "x-fc-function-handler": spec.handler,
        "x-fc-function-memory": str(spec.memory_mb),
        "x-fc-function-timeout": str(spec.timeout),
        "x-fc-function-initializer": spec.initializer,
        "x-fc-initialization-timeout": str(spec.initialization_timeout),
        "x-fc-region": spec.region,
        "x-fc-account-id": spec.account,
        "x-fc-qualifier": spec.qualifier,
        "x-fc-version-id": spec.version_id,
        "x-fc-service-name": shown_service(spec),
        "x-fc-service-logproject": spec.log_project,
        "x-fc-service-logstore": spec.log_store,
        "x-fc-control-path": control_path,
        "x-fc-retry-count": str(retry_count),
    }


# ---- standby instances (standby.py): started before their function is known

# Variables a standby agent starts with: those of a fresh instance whose value does not depend on the
# function (the instance's id and port are the standby's own, kept by the instance it becomes), so its
# first environment is a part of the function's, never anything else.
STANDBY_NAMES = frozenset({
    "PATH", "HOME", "TMPDIR", "MALLOC_ARENA_MAX", "LANG", "FC_SERVER_PORT", "FC_SERVER_HOST",
    "FC_CUSTOM_LISTEN_PORT", "FC_INSTANCE_ID", "FC_RUNTIME", "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN", "accessKeyID", "accessKeySecret",
    "securityToken", "PYTHONPATH", "NODE_PATH", "FC_EMULATOR_OWNER"})
STANDBY_FLAG = "FC_EMULATOR_STANDBY"  # tells the agent to wait for POST /assign (docs/runtime-protocol.md)
# The runtime families whose agents can start before their function (standby.py), on both backends.
STANDBY_KINDS = frozenset({
    "python",
    "nodejs",
    "go1",
    "dotnet",
    "php",
    "java",
})
# Read while the interpreter or the C library starts (module search paths, encodings, time zone,
# allocator, loader, user site-packages under HOME), so only a fresh start honours them.
_AT_START = ("PYTHON", "NODE_", "UV_", "LD_", "MALLOC_", "GLIBC_", "LC_", "TZ", "FC_")


def standby_env(env: dict[str, str]) -> dict[str, str]:
    """A fresh instance's environment cut down to what a standby of the same runtime starts with."""
    return {k: v for k, v in env.items() if k in STANDBY_NAMES} | {STANDBY_FLAG: "1"}


def standby_fits(spec: InstanceSpec) -> bool:
    """Can a standby become this function's instance with exactly a fresh start's environment? Not when the
    function sets a variable the agent's first environment already has or that only counts at start."""
    return (not any(k in STANDBY_NAMES or k.startswith(_AT_START) for k in spec.env)
            and (spec.kind != "php" or _php_standby_fits(spec))
            and (spec.kind != "dotnet" or _dotnet_standby_fits(spec))
            and (spec.kind != "java" or not any(k.startswith(_JAVA_AT_START) for k in spec.env)))


# Read by the java launcher and the JVM at start (options, as JVM flags; -Xmx comes from memorySize, in the
# standby's command line): a Java function that sets one starts afresh.
_JAVA_AT_START = ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_")


# Read by the .NET host (hostfxr, hostpolicy) and the runtime (GC, JIT, ICU) only at start: a .NET function that
# sets one starts afresh (compared without case: the runtime reads COMPlus_ settings so).
_DOTNET_AT_START = ("DOTNET_", "COMPLUS_", "CORECLR_", "COREHOST_", "CLR_")


def _dotnet_standby_fits(spec: InstanceSpec) -> bool:
    """.NET's host reads its DOTNET_*/COMPlus_* settings only at start, and the loader its library path
    (LD_LIBRARY_PATH: the code's top, lib/ and runtimes/linux-x64/native folders, searched at start, each found
    missing then never searched again): a function with shared libraries there, or such a variable of its own,
    starts afresh (runtimes.md §14.1)."""
    if any(k.upper().startswith(_DOTNET_AT_START) for k in spec.env):
        return False
    return spec.code_dir is None or not _shared_libraries(Path(spec.code_dir), "", "lib", "runtimes/linux-x64/native")


def _php_standby_fits(spec: InstanceSpec) -> bool:
    """PHP reads its .ini files only at start (PHP_INI_SCAN_DIR: the code's extension/*.ini; PHPRC), and the
    loader its library path (LD_LIBRARY_PATH: the code's top and lib/ folders, for the extensions the agent
    loads at start): a function with .ini files in extension/, shared libraries there, or a PHP* variable of
    its own starts afresh (runtimes.md §13.1)."""
    if any(k.startswith("PHP") for k in spec.env):
        return False
    if spec.code_dir is None:
        return True
    code = Path(spec.code_dir)
    return not (any(code.glob("extension/*.ini")) or _shared_libraries(code, "", "lib"))


def _shared_libraries(code: Path, *folders: str) -> bool:
    """Has the code a shared library (x.so, x.so.1) directly in one of these folders (the loader's
    LD_LIBRARY_PATH of the runtime, read once at start)?"""
    return any(p.name.endswith(".so") or ".so." in p.name for d in folders for p in (code / d).glob("*.so*"))


def shown_service(spec: InstanceSpec) -> str:
    """The service name a function's code sees: none for an FC 3.0 function (fc3-api.md §7.4: FC 3.0 has
    no services; its hidden engine service "fc3:F" is never shown)."""
    return "" if is_fc3_service(spec.service) else spec.service
