"""One settings object, built from CLI flags and FC_EMULATOR_* variables, passed down explicitly."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "fc-emulator"


def parse_pairs(items: list[str], sep: str = "=") -> dict[str, str]:
    """`K=V` items (or comma-separated lists of them) -> {K: V}."""
    out: dict[str, str] = {}
    for item in items:
        for part in filter(None, (p.strip() for p in item.split(","))):
            key, found, value = part.partition(sep)
            if not found or not key or not value:
                raise ValueError(f"expected KEY{sep}VALUE, got {part!r}")
            out[key] = value
    return out


def parse_access_keys(items: list[str]) -> dict[str, str]:
    """`ID:SECRET` items (or comma-separated lists of them) -> {id: secret}."""
    keys: dict[str, str] = {}
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            key_id, sep, secret = part.partition(":")
            if not sep or not key_id or not secret:
                raise ValueError(f"access key must look like ID:SECRET, got {part!r}")
            keys[key_id] = secret
    return keys


def read_access_keys_file(path: str) -> list[str]:
    """`ID:SECRET` lines (or comma-separated) from a file, `#` comments and blank lines skipped: keys
    that never appear in the emulator's command line, which every local user can read (/proc/PID/cmdline)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ValueError(f"--access-keys-file: cannot read {path}: {exc.strerror}") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def argv_without_access_keys(argv: list[str]) -> tuple[list[str], list[str]]:
    """(argv with every `--access-key X` / `--access-key=X` removed, the keys removed)."""
    clean, keys, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--access-key" and i + 1 < len(argv):
            keys.append(argv[i + 1])
            i += 2
            continue
        if arg.startswith("--access-key="):
            keys.append(arg.split("=", 1)[1])
        else:
            clean.append(arg)
        i += 1
    return clean, keys


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """Seconds from `90`, `1.5`, `500ms`, `30s`, `10m`, `2h`, `7d` or `1w`."""
    raw = text.strip().lower()
    for unit in sorted(_UNITS, key=len, reverse=True):
        if raw.endswith(unit) and raw[:-len(unit)].strip():
            number, factor = raw[:-len(unit)].strip(), _UNITS[unit]
            break
    else:
        number, factor = raw, 1
    try:
        value = float(number) * factor
    except ValueError:
        raise ValueError(f"expected a duration like 30s, 10m, 2h or 7d, got {text!r}") from None
    if value < 0 or value != value:
        raise ValueError(f"a duration must not be negative, got {text!r}")
    return value


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 9000
    data_dir: Path = field(default_factory=default_data_dir)
    # Public base URL used in URLs we hand out (code downloads); derived from host/port when empty.
    public_url: str = ""
    access_keys: dict[str, str] = field(default_factory=dict)
    auth: str = "default"  # "default" | "strict"
    account_id: str = "1234567890123456"
    region: str = "cn-hangzhou"
    oss_dir: Path | None = None  # stands in for OSS: <oss_dir>/<bucket>/<object>
    database_url: str = ""  # empty -> sqlite:///<data_dir>/fc.db
    max_code_size: int = 100 * 1024 * 1024  # zip bytes (CodeSizeLimit)
    max_inline_code_size: int = 50 * 1024 * 1024  # decoded code.zipFile bytes
    max_unzipped_size: int = 500 * 1024 * 1024
    log_level: str = "info"
    # execution
    executor: str = "auto"  # auto | docker | process
    instance_idle_timeout: float = 300.0  # seconds an idle instance is kept warm
    max_instances: int = 10  # per function version, unless its on-demand config says otherwise
    standby: int = 1  # standby instances kept per runtime used since start (standby.py); 0 = none
    standby_runtimes: dict[str, int] = field(default_factory=dict)  # per-runtime counts (--standby RT=N)
    standby_memory_mb: int = 512  # the standby pool's memory bound
    runtime_image: str = ""  # one image for every runtime, instead of each runtime's own (catalog)
    runtime_images: dict[str, str] = field(default_factory=dict)  # per-runtime overrides
    interpreters: dict[str, str] = field(default_factory=dict)  # process backend: runtime -> binary (interpreters.py)
    custom_domain_suffix: str = "localhost"  # <domain>.localhost reaches custom domain <domain>
    docker_network: str = ""  # reach instances over this network instead of 127.0.0.1 (auto in a container)
    docker_remote: str = "auto"  # on | off | auto: the engine is not on this host (DOCKER_HOST not unix://)
    instance_network: str = "auto"  # process backend: auto = a network namespace per custom runtime when root | host
    instance_user: str = "auto"  # process backend: who instances run as (instance_user.py); auto = unprivileged when root
    debug: tuple[str, ...] = ()  # functions started with a debugger (debugger.py): all | SERVICE/FUNCTION | FUNCTION
    # async invocations
    async_workers: int = 8  # async events run at once
    async_retry_base_delay: float = 0.5  # seconds; the n-th retry waits base * 2^(n-1) (FC: 0.5 s, 1 s, 2 s, ...)
    # invocation records (/_emulator/invocations): kept up to this many, and this long
    records_max_count: int = 10000
    records_max_age: float = 7 * 86400.0  # seconds
    records_max_log_bytes: int = 65536  # log kept per record: the tail, after a line saying what was cut
    metrics: str = "auto"  # GET /metrics: auto | open | signed | off (api/metrics.py; auto = signed when strict)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if self.records_max_count < 0:
            raise ValueError(f"--records-max-count must be 0 (no limit) or more, got {self.records_max_count}")
        if self.records_max_log_bytes < 0:
            raise ValueError(f"--records-max-log-bytes must be 0 (no limit) or more, got {self.records_max_log_bytes}")
        if self.metrics not in ("auto", "open", "signed", "off"):
            raise ValueError(f"--metrics must be auto, open, signed or off, got {self.metrics!r}")
        if self.instance_network not in ("auto", "host"):
            raise ValueError(f"--instance-network must be auto or host, got {self.instance_network!r}")
        if self.oss_dir is None:
            self.oss_dir = self.data_dir / "oss"
        self.oss_dir = Path(self.oss_dir)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'fc.db'}"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def strict_auth(self) -> bool:
        return self.auth == "strict"
