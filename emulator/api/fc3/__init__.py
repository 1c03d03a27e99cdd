"""FC 3.0's API (2023-03-30, fc3-api.md) on the same engine as FC 2.0: one router per resource family,
mounted under /2023-03-30. Errors there take FC 3.0's shape {"Code","Message","RequestId"} (api/wire.py
`error_response` picks it by path prefix: routes, 404/405, validation, 500 and the invoke fast path);
requests are signed with ACS3-HMAC-SHA256 (fc3/auth.py), and carry no account (fc3/wire.py)."""
from __future__ import annotations

from fastapi import FastAPI

from emulator.api.fc3 import aliases, functions, invoke, versions
from emulator.api.fc3 import async_tasks, configs, triggers
from emulator.api.fc3 import bindings, custom_domains, instances, layers, misc, tags
from emulator.api.fc3.wire import PREFIX

# a new resource family adds its router here
FC3_ROUTERS = [functions.router, versions.router, aliases.router, invoke.router,
               triggers.router, configs.router, async_tasks.router,
               instances.router, tags.router, bindings.router, layers.router, custom_domains.router, misc.router]


def mount_fc3_api(app: FastAPI) -> None:
    for router in FC3_ROUTERS:
        app.include_router(router, prefix=PREFIX)
