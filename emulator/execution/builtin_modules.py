"""FC's built-in modules: the packages FC's Python and Node.js runtimes carry preinstalled, so that user
code imports `oss2` or requires `raw-body` without shipping them (README "Built-in modules").

Sources (what FC lists per runtime, and the versions it pins):
  - Node.js: https://help.aliyun.com/document_detail/58011.htm ("Node.js内置模块"; English:
    https://alibabacloud.com/help/en/functioncompute/node-js) lists nodejs12 ... nodejs20;
    FC's own local images, github.com/aliyun/fc-docker nodejs{6,8,10,12,14,16}/base/Dockerfile
    (`npm install --global ...`), give the older runtimes' lists.
  - Python: https://help.aliyun.com/document_detail/158208.html ("Python内置模块"; English:
    https://alibabacloud.com/help/doc-detail/158208.htm) lists python3.10 and python3.9;
    github.com/aliyun/fc-docker python{2.7,3.6,3.9}/base/requirements.txt ("as online") are the full
    pip freezes of FC's python2.7, python3 (3.6) and python3.9 images: their dependency pins are used
    as constraints when the interpreter is that same minor.

Each set is installed once into a cache folder, $FC_EMULATOR_MODULES_DIR or
$XDG_CACHE_HOME/fc-emulator/modules or ~/.cache/fc-emulator/modules: `<set>-py<X.Y>` (pip --target, with
an interpreter of that minor: C extensions follow its ABI) or `<set>` (npm --prefix; pure JavaScript,
any Node major). Nothing is installed at call time: only by `fc-emulator modules install`, the image
build (install_into_rootfs) and scripts/test. The process backend puts an existing folder on the
instance's PYTHONPATH / NODE_PATH, after the code folder and layers (instance_paths).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from emulator.execution import caches, catalog
from emulator.store.folders import build_once

_INSTALL_TIMEOUT_S = 1800
Echo = Callable[[str], object]


class ModulesError(Exception):
    """A module set could not be installed (no interpreter of that version, registry unreachable, ...)."""


@dataclass(frozen=True)
class ModuleSet:
    name: str  # the FC runtime whose list this is
    family: str  # python | nodejs
    packages: tuple[str, ...]  # what is installed: FC's modules at FC's versions (pip / npm specs)
    checks: tuple[str, ...]  # imported / required after the install, to prove the folder works
    python: str = ""  # the Python minor FC runs this set on
    constraints: str = ""  # pip: FC's image's pins of the dependencies (used on that same minor only)
    skipped: tuple[str, ...] = ()  # on FC's list, not installed here (README says why)
    compat: str = ""  # pip constraints on any minor: what FC's old SDKs need from today's dependencies


def _pins(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_PY_SKIPPED = ("opencv-python", "numpy", "scipy", "matplotlib", "scrapy", "wand")
_PY_CHECKS = ("oss2", "tablestore", "fc2", "aliyunsdkcore", "mns", "aliyun.log")

# FC's python2.7 and python3 (3.6) images pin the same SDKs; the dependencies differ (constraints).
_PY_OLD = _pins("""
    oss2==2.9.1 tablestore==5.1.0 aliyun-fc2==2.3.0 aliyun-fc==0.6 aliyun-python-sdk-core==2.13.11
    aliyun-python-sdk-ecs==4.10.1 aliyun-python-sdk-vpc==3.0.2 aliyun-python-sdk-rds==2.1.4
    aliyun-python-sdk-kms==2.14.0 aliyun-python-sdk-cdn==3.0.8 aliyun-python-sdk-ram==3.0.0
    aliyun-python-sdk-sts==3.0.0 aliyun-python-sdk-iot==7.8.0 aliyun-python-sdk-fnf==1.3.0
    aliyun-python-sdk-imm==1.3.4 aliyun-python-sdk-dds==2.0.7 aliyun-mns==1.1.5
    aliyun-log-python-sdk==0.6.38""")  # FC's pydatahub 2.11.2 needs cprotobuf, which no longer builds

_OLD_COMPAT = "protobuf<3.21"  # tablestore 5.1's generated code predates protobuf 4

PY_SETS = {
    "python2.7": ModuleSet("python2.7", catalog.PYTHON, _PY_OLD + ("requests==2.26.0",), _PY_CHECKS, "2.7", """
        asn1crypto==0.24.0 cbor==1.0.0 certifi==2021.5.30 cffi==1.14.6 chardet==4.0.0 configparser==4.0.2
        contextlib2==0.6.0.post1 cprotobuf==0.1.10 crcmod==1.7 cryptography==3.3.2 dateparser==0.7.6
        elasticsearch==6.8.2 enum34==1.1.10 funcsigs==1.0.2 future==0.18.2 futures==3.3.0 idna==2.10
        importlib-metadata==2.1.1 ipaddress==1.0.23 jmespath==0.10.0 lz4==2.2.1 pathlib2==2.3.6
        protobuf==3.13.0 pyasn1==0.4.8 pycparser==2.20 pycryptodome==3.10.1 python-dateutil==2.8.2
        pytz==2021.1 regex==2021.8.3 scandir==1.10.0 simplejson==3.17.3 six==1.16.0 typing==3.10.0.0
        tzlocal==2.1 urllib3==1.26.6 zipp==1.2.0""", _PY_SKIPPED + ("pydatahub",), _OLD_COMPAT),
    "python3.6": ModuleSet("python3.6", catalog.PYTHON, _PY_OLD + ("requests==2.27.1",), _PY_CHECKS, "3.6", """
        asn1crypto==0.24.0 backports.zoneinfo==0.2.1 cbor==1.0.0 certifi==2021.10.8 cffi==1.11.5
        chardet==3.0.4 charset-normalizer==2.0.11 idna==2.7 cprotobuf==0.1.10 crcmod==1.7 cryptography==3.2.1
        dateparser==1.1.0 elasticsearch==6.8.2 enum34==1.1.10 future==0.18.2 importlib-resources==5.4.0
        jmespath==0.10.0 lz4==3.1.10 protobuf==3.13.0 pyasn1==0.4.8 pycparser==2.21 pycryptodome==3.14.1
        python-dateutil==2.8.2 pytz==2021.3 pytz-deprecation-shim==0.1.0.post0 regex==2022.1.18 setuptools==57.5.0
        simplejson==3.17.6 six==1.16.0 tzdata==2021.5 tzlocal==4.1 urllib3==1.23 zipp==3.6.0""",
        _PY_SKIPPED + ("pydatahub",), _OLD_COMPAT),
    "python3.9": ModuleSet("python3.9", catalog.PYTHON, _pins("""
        oss2==2.15.0 tablestore==5.2.1 aliyun-fc2==2.5.0 aliyun-fc==0.6 aliyun-python-sdk-core==2.13.35
        aliyun-python-sdk-ecs==4.24.11 aliyun-python-sdk-vpc==3.0.15 aliyun-python-sdk-rds==2.6.1
        aliyun-python-sdk-kms==2.15.0 aliyun-python-sdk-cdn==3.6.7 aliyun-python-sdk-ram==3.2.0
        aliyun-python-sdk-sts==3.1.0 aliyun-python-sdk-iot==8.30.0 aliyun-python-sdk-fnf==1.8.0
        aliyun-python-sdk-imm==1.23.4 aliyun-python-sdk-dds==3.6.0 aliyun-mns==1.1.5
        aliyun-log-python-sdk==0.7.3 alibabacloud-fc-open20210406==1.0.1 requests==2.26.0"""),
        _PY_CHECKS, "3.9", """
        aiohttp==3.8.1 aiosignal==1.2.0 alibabacloud-credentials==0.2.0 alibabacloud-endpoint-util==0.0.3
        alibabacloud-gateway-spi==0.0.1 alibabacloud-openapi-util==0.1.5 alibabacloud-tea==0.2.8
        alibabacloud-tea-openapi==0.3.0 alibabacloud-tea-util==0.3.5 asn1crypto==1.4.0 async-timeout==4.0.1
        attrs==21.2.0 cbor==1.0.0 certifi==2021.10.8 cffi==1.15.0 chardet==4.0.0 charset-normalizer==2.0.8
        crcmod==1.7 cryptography==36.0.0 dateparser==1.1.0 elasticsearch==7.15.2 enum34==1.1.10
        frozenlist==1.2.0 future==0.18.2 idna==3.3 jmespath==0.10.0 multidict==5.2.0 protobuf==3.19.1
        pyasn1==0.4.8 pycparser==2.21 pycryptodome==3.11.0 python-dateutil==2.8.2 pytz==2021.3
        pytz-deprecation-shim==0.1.0.post0 regex==2021.11.10 six==1.16.0 typing_extensions==4.0.0
        tzdata==2021.5 tzlocal==4.1 urllib3==1.26.7 yarl==1.7.2""", _PY_SKIPPED + ("pydatahub",)),
    "python3.10": ModuleSet("python3.10", catalog.PYTHON, _pins("""
        oss2==2.16.0 tablestore==5.4.1 aliyun-fc2==2.5.2 aliyun-python-sdk-ecs==4.24.26
        aliyun-python-sdk-vpc==3.0.27 aliyun-python-sdk-rds==2.7.2 aliyun-python-sdk-kms==2.16.0
        aliyun-mns==1.1.5 aliyun-python-sdk-cdn==3.7.8 aliyun-python-sdk-ram==3.2.0 aliyun-python-sdk-sts==3.1.0
        aliyun-python-sdk-iot==8.47.0 aliyun-log-python-sdk==0.8.0 PyMySQL==1.0.2 elasticsearch==8.5.2
        Pillow==9.3.0 redis==4.4.0 requests==2.28.1"""),
        _PY_CHECKS + ("pymysql", "redis", "PIL"), "3.10", "", ("scrapy", "wand", "pyOpenSSL")),
}

# Node.js: pure JavaScript, so one folder serves any Node major. `opencv` (a native addon needing
# OpenCV's libraries) is left out; `~x.y.z` where the registry lacks FC's exact patch release.
_NODE_CHECKS = ("co", "raw-body", "body", "ali-oss", "tablestore", "@alicloud/fc2", "@alicloud/pop-core",
                "aliyun-sdk", "ali-mns", "gm")
_NODE_LEGACY = _pins("""co@4.6.0 ali-oss@4.10.1 aliyun-sdk@1.11.10 @alicloud/fc@~1.2.2 tablestore@4.2.0
    @alicloud/fc2@2.1.0 body@5.1.0 raw-body@2.3.2 ali-mns@2.6.5 @alicloud/pop-core@1.7.0
    @alicloud/fnf-2019-03-15@1.1.0""") + ("httpx@2.2.7",)  # fc2's dependency: the last release Node 6/8 parse
_NODE12 = _pins("""co@4.6.0 gm@1.23.0 ali-oss@6.6.0 aliyun-sdk@1.12.3 tablestore@5.0.7 @alicloud/fc2@2.2.0
    body@5.1.0 raw-body@2.4.1 ali-mns@2.6.8 @alicloud/pop-core@1.7.9 @alicloud/fnf-2019-03-15@1.1.0""")

NODE_SETS = {
    "nodejs6": ModuleSet("nodejs6", catalog.NODEJS, _NODE_LEGACY + ("gm@1.23.1",), _NODE_CHECKS,
                         skipped=("opencv",)),
    "nodejs8": ModuleSet("nodejs8", catalog.NODEJS, _NODE_LEGACY + _pins(
        "gm@1.23.0 axios@0.19.2 lodash@4.17.15 moment@2.25.3 uuid@8.0.0"), _NODE_CHECKS, skipped=("opencv",)),
    "nodejs10": ModuleSet("nodejs10", catalog.NODEJS, _NODE_LEGACY + ("gm@1.23.0",), _NODE_CHECKS,
                          skipped=("opencv",)),
    "nodejs12": ModuleSet("nodejs12", catalog.NODEJS, _NODE12 + ("@alicloud/fc@1.2.3",), _NODE_CHECKS,
                          skipped=("opencv",)),
    "nodejs14": ModuleSet("nodejs14", catalog.NODEJS, _NODE12, _NODE_CHECKS),
    "nodejs16": ModuleSet("nodejs16", catalog.NODEJS, _pins("""co@4.6.0 gm@1.23.1 ali-oss@6.17.1
        aliyun-sdk@~1.12.5 @alicloud/fc2@~2.6.0 tablestore@~5.2.1 body@5.1.0 raw-body@2.5.1 ali-mns@2.6.8
        @alicloud/pop-core@1.7.12"""), _NODE_CHECKS),
    "nodejs18": ModuleSet("nodejs18", catalog.NODEJS, _pins("""co@4.6.0 gm@1.25.0 ali-oss@6.19.0
        aliyun-sdk@1.12.10 @alicloud/fc2@2.6.6 tablestore@5.4.1 body@5.1.0 raw-body@2.5.2 ali-mns@2.6.8
        @alicloud/pop-core@1.7.13"""), _NODE_CHECKS),
}
SETS: dict[str, ModuleSet] = {**PY_SETS, **NODE_SETS}

# Which FC list each runtime gets: FC documents none for python3.7/3.8 (FC 2.0 has no such runtime
# images): they get python3's (3.6).
RUNTIME_SETS = {
    "python2.7": "python2.7", "python3": "python3.6", "python3.6": "python3.6", "python3.7": "python3.6",
    "python3.8": "python3.6", "python3.9": "python3.9", "python3.10": "python3.10",
    "nodejs4.4": "nodejs6", "nodejs6": "nodejs6", "nodejs8": "nodejs8", "nodejs10": "nodejs10",
    "nodejs12": "nodejs12", "nodejs14": "nodejs14", "nodejs16": "nodejs16", "nodejs18": "nodejs18",
    "nodejs20": "nodejs18",
}


def module_set(runtime: str) -> ModuleSet | None:
    name = RUNTIME_SETS.get(runtime)
    return SETS[name] if name else None


def modules_dir() -> Path:
    return caches.cache_dir("modules", "FC_EMULATOR_MODULES_DIR")


def folder(mset: ModuleSet, python_minor: str = "") -> Path:
    """Where `mset` lives for a Python of `python_minor` (Node.js sets: any), installed or not."""
    if mset.family == catalog.PYTHON:
        return modules_dir() / f"{mset.name}-py{python_minor}"
    return modules_dir() / mset.name


def minor(version: str) -> str:
    """'3.9.18' -> '3.9'."""
    return ".".join(version.split(".")[:2])


# ---- the process backend

def instance_paths(spec, interpreter_version: str, env: dict[str, str]) -> tuple[str, tuple[str, str] | None]:
    """Put `spec`'s built-in modules on the instance's module path, after what the agent puts first
    (code folder, layers) and after the user's own PYTHONPATH / NODE_PATH; changes `env`. Returns the
    line for the instance's log when the set is not installed (else ''), and (host folder, where FC
    keeps it) so the instance's output names FC's path."""
    mset = module_set(spec.runtime)
    if mset is None:
        return "", None
    version = minor(interpreter_version)
    path = folder(mset, version)
    if mset.family == catalog.NODEJS:
        path, inside = path / "node_modules", "/usr/local/lib/node_modules"
    else:
        inside = f"/usr/local/lib/python{version}/site-packages"
    if not path.is_dir():
        return (f"fc-emulator: FC's built-in modules of {spec.runtime} ({', '.join(mset.checks[:4])}, ...) are not "
                f"installed for the process backend: run `fc-emulator modules install {spec.runtime}`"), None
    var = "PYTHONPATH" if mset.family == catalog.PYTHON else "NODE_PATH"
    env[var] = os.pathsep.join(p for p in (env.get(var, ""), str(path)) if p)
    return "", (str(path), inside)


# ---- installers

def install(mset: ModuleSet, python: str | None = None, echo: Echo = print) -> Path:
    """The folder of `mset` (for the Python binary `python`), installed first when missing."""
    if mset.family == catalog.NODEJS:
        return build_once(folder(mset), lambda tmp: _npm_install(mset, tmp, echo))
    python = python or python_binary(mset.python)
    version = _run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).strip()
    return build_once(folder(mset, version), lambda tmp: _pip_install(mset, python, version, tmp, echo))


def python_binary(wanted: str) -> str:
    """A Python of minor `wanted` on this host: pythonX.Y on PATH, else pyenv's newest X.Y.*."""
    from emulator.execution.interpreters import pyenv_roots
    candidates = [shutil.which(f"python{wanted}")]
    for root in pyenv_roots():
        for d in sorted((root / "versions").glob(f"{wanted}.*"), reverse=True):
            candidates.append(str(d / "bin" / f"python{wanted}"))
    for c in candidates:
        if c and os.path.isfile(c):
            try:
                if _run([c, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).strip() == wanted:
                    return c
            except ModulesError:
                continue
    raise ModulesError(f"no Python {wanted} on this host to install the modules with: install it "
                       f"(e.g. `pyenv install {wanted}`) so that python{wanted} is on PATH or under $(pyenv root)")


def _pip_install(mset: ModuleSet, python: str, version: str, tmp: Path, echo: Echo) -> None:
    tmp.chmod(0o755)  # mkdtemp's 0700 would follow the folder into images, unreadable to other users
    echo(f"   pip install {len(mset.packages)} packages of FC's {mset.name} list with Python {version}")
    argv = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q",
            "--no-warn-script-location", "--target", str(tmp), *mset.packages]
    # FC's own dependency versions where they fit (the same minor), else only what old SDKs need
    pins = (mset.constraints if version == mset.python else "").split() + mset.compat.split()
    cfile = tmp.parent / f".{tmp.name}.constraints.txt"
    if pins:
        cfile.write_text("\n".join(pins) + "\n")
        argv += ["-c", str(cfile)]
    try:
        _run(argv, env={**os.environ, "PIP_ROOT_USER_ACTION": "ignore"})
    finally:
        cfile.unlink(missing_ok=True)
    shutil.rmtree(tmp / "bin", ignore_errors=True)
    _drop_stdlib_shadows(python, tmp, echo)
    if version.startswith("2."):
        _py2_namespace_packages(tmp)
    _run([python, "-c", "import " + ", ".join(mset.checks)], env={"PYTHONPATH": str(tmp), "PATH": "/usr/bin:/bin"},
         cwd=str(tmp))


# Backports (enum34, typing, futures ...) would shadow the standard library: the folder sits on
# PYTHONPATH, before it, unlike FC's site-packages.
_STDLIB_PROBE = """
import sys
sys.path = [p for p in sys.path if p not in ('', '.')]
try:
    from importlib.util import find_spec
    def found(n):
        try:
            return find_spec(n) is not None
        except Exception:
            return False
except ImportError:
    import imp
    def found(n):
        try:
            imp.find_module(n)
            return True
        except ImportError:
            return False
print(' '.join(n for n in sys.argv[1:] if found(n)))
"""


def _drop_stdlib_shadows(python: str, tmp: Path, echo: Echo) -> None:
    names = {}
    for entry in tmp.iterdir():
        if entry.name.endswith((".dist-info", ".egg-info", ".pth")) or entry.name.startswith(("_", ".")):
            continue
        name = entry.name.split(".")[0] if entry.is_file() else entry.name
        if (entry.is_dir() and "." not in name and "-" not in name) or entry.suffix in (".py", ".so"):
            names.setdefault(name, []).append(entry)
    # -S: no site-packages, so whatever is found is the standard library (or built in)
    shadows = _run([python, "-S", "-c", _STDLIB_PROBE, *sorted(names)], cwd="/").split()
    for name in shadows:
        for entry in names[name]:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    if shadows:
        echo(f"   left out backports the standard library already has: {', '.join(shadows)}")


def _py2_namespace_packages(tmp: Path) -> None:
    """Python 2 imports namespace packages (google.protobuf) through the *-nspkg.pth files of
    site-packages, which PYTHONPATH does not read: give those folders the classic __init__.py."""
    for entry in tmp.iterdir():
        if entry.is_dir() and "." not in entry.name and not (entry / "__init__.py").exists() \
                and any(p.suffix == ".py" or (p / "__init__.py").exists() for p in entry.iterdir()):
            (entry / "__init__.py").write_text("__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n")


def _npm_install(mset: ModuleSet, tmp: Path, echo: Echo) -> None:
    npm = shutil.which("npm")
    if not npm:
        raise ModulesError("npm is needed to install the Node.js built-in modules (it is not on PATH)")
    tmp.chmod(0o755)
    echo(f"   npm install {len(mset.packages)} packages of FC's {mset.name} list")
    _run([npm, "install", "--prefix", str(tmp), "--no-audit", "--no-fund", "--omit=dev", "--no-save",
          "--loglevel=error", *mset.packages], cwd=str(tmp))
    node = _node_for(mset)
    script = "".join(f"require({m!r});" for m in mset.checks)
    _run([node, "-e", script], env={"NODE_PATH": str(tmp / "node_modules"), "PATH": "/usr/bin:/bin"}, cwd="/")


def _node_for(mset: ModuleSet) -> str:
    """The set's own Node major, when its official binary is cached; else the host's node."""
    from emulator.execution import toolchains
    cached = toolchains.node_binary(int(mset.name[len("nodejs"):]), fetch=False, echo=None)
    return str(cached) if cached else (shutil.which("node") or "node")


def _run(argv: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT_S, env=env,
                             cwd=cwd, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ModulesError(f"{os.path.basename(argv[0])}: {exc}") from None
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-15:]
        raise ModulesError(f"`{os.path.basename(argv[0])} {' '.join(argv[1:4])} ...` failed:\n" + "\n".join(tail))
    return out.stdout


# ---- Docker images (builtin_modules_images.py; the image build calls these two)

def install_into_rootfs(recipe: str, rootfs: Path, echo: Echo = print) -> dict[str, str]:
    from emulator.execution import builtin_modules_images
    return builtin_modules_images.install_into_rootfs(recipe, rootfs, echo)


def dockerfile_snippet(runtime: str) -> str:
    from emulator.execution import builtin_modules_images
    return builtin_modules_images.dockerfile_snippet(runtime)


def installed_sets() -> list[Path]:
    root = modules_dir()
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []


def size_mb(path: Path) -> float:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total / 1e6
