"""Every FC API router, mounted under both API versions (fc-api.md §0, §2.0)."""
from __future__ import annotations

from fastapi import FastAPI

from emulator.api import (account, aliases, configs, custom_domains, functions, instances, invocations, layers,
                          proxy, services, stateful, tags, triggers, versions)
from emulator.api import bindings, event_sources, gpu_instances, temp_oss
from emulator.api.openapi import describe
from emulator.api.wire import API_VERSIONS

FC_ROUTERS = [
    account.router, services.router, functions.router, triggers.router, versions.router, aliases.router,
    custom_domains.router, tags.router, configs.router, layers.router, stateful.router, invocations.router,
    instances.router, proxy.router, event_sources.router, bindings.router, gpu_instances.router, temp_oss.router,
]


def mount_fc_api(app: FastAPI) -> None:
    for version in API_VERSIONS:
        for router in FC_ROUTERS:
            app.include_router(router, prefix=f"/{version}")
    describe(app, FC_ROUTERS)  # /openapi.json with FC's bodies and parameters, built on first use
