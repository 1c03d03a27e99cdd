"""Hot reload (issue 14): functions whose code is a local folder (store/code.py, `ossBucketName: local`,
`ossObjectName: /abs/folder`) run that folder itself. A change to a file in it retires every instance that
runs it, so the next call starts afresh on the new code (in-flight calls finish on the old one).

A folder is watched from the first instance started on it: until then no instance can hold stale code.
One watchfiles task per folder; events are debounced 50 ms, so instances retire well within a second.
"""
from __future__ import annotations

import asyncio
import logging
import weakref
from pathlib import Path

from watchfiles import DefaultFilter, awatch

log = logging.getLogger("fc_emulator.hot_reload")

DEBOUNCE_MS = 50
STEP_MS = 20


class CodeFilter(DefaultFilter):
    """What an instance or a tool writes without changing the code: bytecode, VCS and editor files.
    Unlike watchfiles' default, node_modules counts (an `npm install` changes what runs)."""
    ignore_dirs = ("__pycache__", ".git", ".hg", ".svn", ".idea", ".mypy_cache", ".pytest_cache", ".hypothesis")


class FolderWatcher:
    def __init__(self):
        self._pools: dict[Path, weakref.WeakSet] = {}  # folder -> pools with instances running it
        self._tasks: dict[Path, asyncio.Task] = {}
        self._stop = asyncio.Event()
        self.closed = False

    def watch(self, folder: Path, pool) -> None:
        """`pool` (pool.FunctionPool) runs `folder`: retire its instances when a file in it changes."""
        if self.closed:
            return
        folder = Path(folder)
        self._pools.setdefault(folder, weakref.WeakSet()).add(pool)
        task = self._tasks.get(folder)
        if task is None or task.done():
            self._tasks[folder] = asyncio.create_task(self._run(folder), name=f"hot-reload {folder}")

    async def _run(self, folder: Path) -> None:
        try:
            async for changes in awatch(folder, watch_filter=CodeFilter(), debounce=DEBOUNCE_MS, step=STEP_MS,
                                        stop_event=self._stop, ignore_permission_denied=True):
                self._changed(folder, changes)
        except FileNotFoundError:
            log.warning("hot reload: the code folder of %s is gone", self._names(folder) or "a function")
        except Exception:  # noqa: BLE001 - a watcher failing must not take the emulator with it
            log.exception("hot reload: watching a code folder failed")
        finally:
            self._tasks.pop(folder, None)

    def _changed(self, folder: Path, changes: set) -> None:
        pools = [p for p in list(self._pools.get(folder, ())) if p.instances]
        paths = [Path(path) for _, path in changes if Path(path).is_relative_to(folder)]
        names = sorted({p.relative_to(folder).as_posix() for p in paths if p.exists()}  # not an editor's temp file
                       or {p.relative_to(folder).as_posix() for p in paths})
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        for pool in pools:
            count = pool.retire()
            if count:
                log.info("hot reload: /code/%s changed: %d instance(s) of %s retired", shown, count,
                         "/".join(pool.key[1:]))

    def _names(self, folder: Path) -> str:
        return ", ".join(sorted("/".join(p.key[1:3]) for p in list(self._pools.get(folder, ()))))

    async def close(self) -> None:
        self.closed = True
        self._stop.set()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
