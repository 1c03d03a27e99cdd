"""The Debian mirror the offline build uses: the one this host's apt already uses, so a user's local
mirror (or proxy) serves the build too; `--mirror` overrides, and with neither debootstrap picks its
own default."""
from __future__ import annotations

from pathlib import Path

APT_DIR = Path("/etc/apt")
# Suites of Debian itself (an Ubuntu or third-party entry is not a Debian mirror).
DEBIAN_SUITES = {"stretch", "buster", "bullseye", "bookworm", "trixie", "forky", "sid",
                 "oldoldstable", "oldstable", "stable", "testing", "unstable"}


def _deb822(text: str) -> list[tuple[list[str], list[str], list[str]]]:
    """(types, uris, suites) of each stanza of a .sources file."""
    entries = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0] in " \t" and key:  # a continuation line
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        entries.append((fields.get("types", "").split(), fields.get("uris", "").split(),
                        fields.get("suites", "").split()))
    return entries


def _one_line(text: str) -> list[tuple[list[str], list[str], list[str]]]:
    """(types, uris, suites) of each `deb [options] URI SUITE COMPONENTS...` line of a .list file."""
    entries = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 3:
            continue
        kind, rest = words[0], words[1:]
        if rest[0].startswith("["):  # [arch=amd64 signed-by=...]
            while rest and not rest[0].endswith("]"):
                rest = rest[1:]
            rest = rest[1:]
        if len(rest) >= 2:
            entries.append(([kind], [rest[0]], [rest[1]]))
    return entries


def host_mirror(apt_dir: Path = APT_DIR) -> str | None:
    """The URI of the first `deb` entry for a Debian suite in the host's apt sources, or None."""
    files = [apt_dir / "sources.list"]
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for types, uris, suites in (_deb822(text) if path.suffix == ".sources" else _one_line(text)):
            if "deb" in types and uris and any(s in DEBIAN_SUITES for s in suites):
                uri = uris[0].rstrip("/")
                if uri.startswith(("http://", "https://", "file:/")):
                    return uri
    return None
