"""What keeps process-backend instances apart from the host and from each other, and makes sure
nothing they start outlives them (issue 12):

- every instance process carries `FC_EMULATOR_OWNER=<marker of the data dir>` and `FC_INSTANCE_ID` in its
  environment, so its descendants, even those in a session of their own (`setsid`, double fork), can be
  found in /proc and killed when the instance stops, at shutdown, and at the next start after a `kill -9`;
  two emulators with different data dirs never touch each other's;
- as root, with a writable cgroup v2 hierarchy, every instance also gets a cgroup of its own, killed whole
  with `cgroup.kill` (this also catches descendants that cleared their environment);
- the instance's first process dies with the emulator (PR_SET_PDEATHSIG);
- a custom runtime (which may listen on its fixed `caPort`, e.g. 9000) gets a network namespace of its
  own when the emulator runs as root: only a loopback interface, the server's port reached from the host
  through a relay on a free 127.0.0.1 port (`Relay`).
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger("fc_emulator.isolation")

OWNER_ENV = "FC_EMULATOR_OWNER"
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1

_libc = ctypes.CDLL(None, use_errno=True)  # loaded in the parent: child set-up code only calls into it


def owner_marker(data_dir: Path) -> str:
    """Names the emulator that owns a process (by its data dir) without showing the host path."""
    return hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:16]


# ---- in the child, between fork and exec (preexec_fn) ------------------------------------------------

def join_cgroup(path: str) -> None:
    with open(os.path.join(path, "cgroup.procs"), "w") as f:
        f.write("0")  # this process; everything it starts stays in the cgroup


def enter_new_netns() -> None:
    """A network namespace of our own with its loopback up, and every port bindable (caPort may be < 1024)."""
    if _libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    try:
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start", "w") as f:
            f.write("0")
    except OSError:
        pass


def die_with_parent(parent: int) -> None:
    """SIGKILL when the emulator dies (also by kill -9). A change of user clears this: call it last."""
    _libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the emulator died before we got here
        os._exit(1)


# ---- finding and killing an instance's processes -------------------------------------------------

def marked_pids(owner: str, instance_id: str | None = None) -> list[int]:
    """Processes whose environment carries the owner marker (and the instance id, when given)."""
    want = [f"{OWNER_ENV}={owner}".encode()] + ([f"FC_INSTANCE_ID={instance_id}".encode()] if instance_id else [])
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:  # gone, or not ours to read
            continue
        if all(w in env for w in want):
            found.append(int(name))
    return found


def kill_marked(owner: str, instance_id: str | None = None, rounds: int = 5) -> int:
    """SIGKILL every marked process, again until none is left (a dying parent may still fork)."""
    killed = 0
    for _ in range(rounds):
        pids = marked_pids(owner, instance_id)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)
    return killed


class Cgroups:
    """One cgroup v2 per instance under `<our cgroup>/fc-emulator-<owner>`, when the hierarchy is writable."""

    def __init__(self, owner: str):
        self.base: Path | None = None
        self.problem = ""
        try:
            mount = next(line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
                         if " - cgroup2 " in line)
            own = next(line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines()
                       if line.startswith("0::"))
            base = Path(mount + own.rstrip("/")) / f"fc-emulator-{owner}"
            base.mkdir(exist_ok=True)
            if not (base / "cgroup.procs").exists():
                raise OSError("not a cgroup v2 folder")
            self.base = base
        except (OSError, StopIteration) as exc:
            self.problem = str(exc) or "no cgroup v2 hierarchy"

    def create(self, instance_id: str) -> str | None:
        if self.base is None:
            return None
        path = self.base / instance_id
        try:
            path.mkdir(exist_ok=True)
        except OSError:
            return None
        return str(path)

    def kill(self, path: str | Path, timeout: float = 2.0) -> None:
        """Kill every process in the cgroup and remove it."""
        path = Path(path)
        procs = path / "cgroup.procs"
        deadline = time.monotonic() + timeout
        while True:
            try:
                pids = [int(p) for p in procs.read_text().split()]
            except (OSError, ValueError):
                break
            if not pids:
                break
            try:
                (path / "cgroup.kill").write_text("1")  # Linux 5.14+: the whole cgroup at once
            except OSError:
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        try:
            path.rmdir()
        except OSError:
            pass

    def sweep(self) -> int:
        """Every instance cgroup of this owner (those of a killed emulator too)."""
        if self.base is None or not self.base.exists():
            return 0
        count = 0
        for child in self.base.iterdir():
            if child.is_dir():
                self.kill(child)
                count += 1
        return count

    def pids(self, path: str | None) -> list[int]:
        try:
            return [int(p) for p in Path(path, "cgroup.procs").read_text().split()] if path else []
        except (OSError, ValueError):
            return []


# ---- network namespaces ------------------------------------------------------------------------------

_netns_problem: str | None = None


def netns_problem(mode: str) -> str:
    """Why a custom runtime can't have a network namespace of its own here ('' if it can)."""
    global _netns_problem
    if mode == "host":
        return "--instance-network host is set"
    if _netns_problem is None:
        if not sys.platform.startswith("linux"):
            _netns_problem = "network namespaces need Linux"
        elif os.geteuid() != 0:
            _netns_problem = "the emulator does not run as root (a network namespace per instance needs it)"
        else:  # probe once, in a throwaway child: a container without CAP_SYS_ADMIN refuses
            probe = ("import ctypes,os\nl=ctypes.CDLL(None,use_errno=True)\n"
                     f"os._exit(0 if l.unshare({CLONE_NEWNET})==0 else ctypes.get_errno() or 1)")
            try:
                code = subprocess.run([sys.executable, "-c", probe], timeout=10).returncode
            except (OSError, subprocess.TimeoutExpired) as exc:
                code = getattr(exc, "errno", None) or errno.EIO
            _netns_problem = "" if code == 0 else \
                f"creating a network namespace failed ({os.strerror(code) if code > 0 else code})"
    return _netns_problem


def listening_in(pid: int) -> set[int]:
    """The TCP ports listened on in the network namespace of `pid`."""
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 3 and parts[3] == "0A":
                ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


def listening_ports(pids: list[int]) -> set[int]:
    """TCP ports the given processes listen on (in the host's network namespace)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    ports = set()
    if inodes:
        for table in ("tcp", "tcp6"):
            try:
                lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                parts = line.split()
                if len(parts) > 9 and parts[3] == "0A" and parts[9] in inodes:
                    ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


class Relay:
    """Forwards a free 127.0.0.1 port on the host to 127.0.0.1:<port> inside an instance's network
    namespace: the listening socket is made on the host, then the accepting thread joins the namespace,
    so the sockets it connects belong there. Two copying threads per connection (the emulator keeps
    its connections to an instance alive, so there are few)."""

    def __init__(self, pid: int, inner_port: int, name: str):
        self.inner_port = inner_port
        self._ns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)  # keeps the namespace while we need it
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(128)
        self.port = self._server.getsockname()[1]
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, name=f"relay-{name}", daemon=True).start()

    def _accept(self) -> None:
        if _libc.setns(self._ns, CLONE_NEWNET) != 0:  # this thread only
            log.warning("relay: setns failed: %s", os.strerror(ctypes.get_errno()))
            return
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            try:
                inner = socket.create_connection(("127.0.0.1", self.inner_port), timeout=5)
                inner.settimeout(None)
            except OSError:
                client.close()  # the server isn't there (yet, or any more): the caller sees a reset
                continue
            for s in (client, inner):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._closed:
                    client.close()
                    inner.close()
                    return
                self._conns.update((client, inner))
            done = [0]
            threading.Thread(target=self._pump, args=(client, inner, done), daemon=True).start()
            threading.Thread(target=self._pump, args=(inner, client, done), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, done: list[int]) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)  # pass the half-close on
        except OSError:  # a reset, or closed by close(): wake the other pump too
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        with self._lock:  # the second pump of a pair to finish closes both sockets
            done[0] += 1
            last = done[0] == 2
            if last:
                self._conns.discard(src)
                self._conns.discard(dst)
        if last:
            src.close()
            dst.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._conns = list(self._conns), set()
        try:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        except OSError:
            pass
        self._server.close()
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        try:
            os.close(self._ns)
        except OSError:
            pass
