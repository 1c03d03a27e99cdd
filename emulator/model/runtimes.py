"""The runtimes FC 2.0 accepts (fc-api.md §6) and what each is for us."""
from __future__ import annotations

PYTHON = ("python2.7", "python3", "python3.6", "python3.7", "python3.8", "python3.9", "python3.10")
NODEJS = ("nodejs4.4", "nodejs6", "nodejs8", "nodejs10", "nodejs12", "nodejs14", "nodejs16", "nodejs18",
          "nodejs20")
CUSTOM = ("custom", "custom.debian10", "custom.debian11", "custom.debian12")
OTHER = ("java8", "java11", "go1", "php7.2", "dotnetcore2.1", "dotnetcore3.1")
CONTAINER = "custom-container"

ALL = PYTHON + NODEJS + CUSTOM + OTHER + (CONTAINER,)


def invalid_runtime_message(runtime: str) -> str:
    return f"Runtime is set to an invalid value (allowed: {' | '.join(ALL)}, actual: '{runtime}')"
