"""Who process-backend instances run as (`--instance-user`, FC_EMULATOR_INSTANCE_USER).

FC runs function code as a non-root user. When the emulator runs as root, its instances run as an
unprivileged user (by default `fc-emulator-fn`, created on first use, else `nobody`) with no
supplementary groups, so user code can read neither the data dir's secrets (fc.db,
url-signing.key: mode 0600) nor the emulator's /proc/<pid>/environ. Not as root, instances run as
the emulator's own user (Linux gives no other choice without privileges).

The instance needs its interpreter, the agents, its code, layers and built-in modules: a folder on
the way that the user cannot enter (pyenv under a 0700 /root, say) is reported once in the server
log; with the default setting that instance then runs as the emulator's user, with a user set by
name it does not start.
"""
from __future__ import annotations

import logging
import os
import pwd
import shutil
import stat
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("fc_emulator")

AUTO = "auto"
DEFAULT_NAME = "fc-emulator-fn"
SETTING = "--instance-user (FC_EMULATOR_INSTANCE_USER)"


@dataclass(frozen=True)
class InstanceUser:
    name: str
    uid: int
    gid: int
    explicit: bool = False  # named by the operator: never fall back to the emulator's user

    @property
    def separate(self) -> bool:
        return self.uid != os.geteuid()

    def popen_kwargs(self) -> dict:
        """subprocess.Popen arguments: setgroups([]), setgid, setuid in the child before exec."""
        if not self.separate:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def blocked(self, path: str | Path) -> str | None:
        """The first folder on the way to `path` (or `path` itself) this user cannot enter or read."""
        if not self.separate or self.uid == 0:
            return None
        real = Path(os.path.realpath(path))
        chain = [*reversed(real.parents), real]
        for i, p in enumerate(chain):
            try:
                st = p.stat()
            except OSError:
                return None  # missing: the start fails on its own terms, naming what it sees
            last = i == len(chain) - 1
            need = (stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(st.st_mode) else 0)) if last else stat.S_IXOTH
            if not self._may(st, need):
                return str(p)
        return None

    def _may(self, st: os.stat_result, need_other: int) -> bool:
        """Mode bits as the kernel reads them for this user (no ACLs): owner, else group, else others."""
        if st.st_uid == self.uid:
            return (st.st_mode >> 6) & need_other == need_other
        if st.st_gid == self.gid:
            return (st.st_mode >> 3) & need_other == need_other
        return st.st_mode & need_other == need_other

    def become(self) -> None:
        """In the child between fork and exec, after root's own set-up: drop groups, then gid, then uid."""
        if self.separate:
            os.setgroups([])
            os.setgid(self.gid)
            os.setuid(self.uid)

    def own(self, folder: Path) -> None:
        """Give the instance its own writable folder (its /tmp), private to it."""
        if self.separate:
            os.chown(folder, self.uid, self.gid)
        folder.chmod(0o700)


class InstanceUsers:
    """The configured user, and the fall-back decision per instance (said once per folder)."""

    def __init__(self, setting: str | None = AUTO):
        """`setting`: auto, a user name or uid; None = the emulator's own user."""
        self.own = current()
        self.user = self.own if setting is None else resolve(setting)
        self._said: set[str] = set()
        self._lock = threading.Lock()
        if self.user.separate:
            log.info("process backend: instances run as user %s (uid %d)", self.user.name, self.user.uid)

    def for_paths(self, paths: list[str | Path | None]) -> InstanceUser | str:
        """The user to run an instance that reads `paths`; a message (no host path) when it can't start."""
        for p in paths:
            folder = self.user.blocked(p) if p else None
            if folder is None:
                continue
            with self._lock:
                first = folder not in self._said
                self._said.add(folder)
            if self.user.explicit:
                if first:
                    log.error("process backend: user %s cannot enter %s, which an instance needs: make it "
                              "traversable for that user (chmod o+x, or setfacl -m u:%s:x)",
                              self.user.name, folder, self.user.name)
                return (f"the instance user '{self.user.name}' ({SETTING}) cannot read what this function needs "
                        "(the server log names the folder)")
            if first:
                log.warning("process backend: %s cannot enter %s, so instances that need it run as %s: make it "
                            "traversable for that user (chmod o+x %s, or setfacl -m u:%s:x %s) or set %s",
                            self.user.name, folder, self.own.name, folder, self.user.name, folder, SETTING)
            return self.own
        return self.user


    def of_process(self, pid: int) -> InstanceUser | None:
        """Who a running instance is (InstanceExec runs as the same user); None when it is gone."""
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return None
        ids = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines()
               if line.startswith(("Uid:", "Gid:"))}
        uid, gid = ids.get("Uid", self.own.uid), ids.get("Gid", self.own.gid)
        return self.user if (uid, gid) == (self.user.uid, self.user.gid) else InstanceUser(str(uid), uid, gid)


def current() -> InstanceUser:
    uid = os.geteuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    return InstanceUser(name, uid, os.getegid())


def resolve(setting: str) -> InstanceUser:
    """`auto`: an unprivileged user when root, else ourselves; otherwise a user name or uid."""
    setting = (setting or AUTO).strip()
    if setting == AUTO:
        if os.geteuid() != 0:
            return current()
        entry = _lookup(DEFAULT_NAME) or _create(DEFAULT_NAME) or _lookup("nobody")
        if entry is None:
            log.warning("process backend: no unprivileged user found (%s, nobody): instances run as root",
                        DEFAULT_NAME)
            return current()
        return InstanceUser(entry.pw_name, entry.pw_uid, entry.pw_gid)
    entry = _lookup(setting)
    if entry is None:
        raise ValueError(f"--instance-user: no user '{setting}' on this host")
    if os.geteuid() != 0 and entry.pw_uid != os.geteuid():
        raise ValueError(f"--instance-user {setting}: running instances as another user needs root")
    return InstanceUser(entry.pw_name, entry.pw_uid, entry.pw_gid, explicit=True)


def _lookup(name: str):
    try:
        return pwd.getpwuid(int(name)) if name.isascii() and name.isdigit() else pwd.getpwnam(name)
    except (KeyError, ValueError, OverflowError):
        return None


def _create(name: str):
    """A system user with no home, no shell and a group of its own (`useradd`, when there is one)."""
    useradd = shutil.which("useradd") or next((p for p in ("/usr/sbin/useradd", "/sbin/useradd")
                                              if os.path.exists(p)), None)
    if useradd is None:
        return None
    try:
        subprocess.run([useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", name], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("process backend: could not create the user %s: %s", name, exc)
    return _lookup(name)
