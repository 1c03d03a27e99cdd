"""Provisioned instances (PutProvisionConfig, fc-api.md §2.9): after a config is stored, keep
`target` pre-started instances of the function version it names; `current` counts the ready ones."""
from __future__ import annotations

import logging

import anyio.from_thread

log = logging.getLogger("fc_emulator.pool")


def apply(state, account: str, service: str, qualifier: str, function: str, target: int) -> None:
    """Called by the configs API from its worker thread, after the config is written."""
    spec = state.invoker.targets.spec_for(account, service, qualifier, function)
    pools = state.pools
    resource = resource_name(account, service, qualifier, function)
    # the target is function-wide: other replicas' provisioned instances count (store/replicas.py)
    registry = pools.registry
    elsewhere = registry.count_elsewhere(spec.key, provisioned=True) if registry is not None else 0
    target = max(0, target - elsewhere)

    # A laptop is not a region: start at most --max-instances of them, and say so in currentError
    # (FC reports a shortfall the same way) instead of starting thousands of processes.
    started = min(target, pools.max_instances)
    shortfall = (f"fc-emulator starts at most {pools.max_instances} provisioned instances per function version "
                 f"(--max-instances); {target - started} of the target {target} were not started"
                 if started < target else "")

    def run() -> None:  # on the event loop: the pool starts instances as tasks
        pools.provisioned[resource] = spec.key
        pool = pools.pool(spec.key)
        pool.provision_shortfall = shortfall
        pool.provision(spec, started)

    anyio.from_thread.run_sync(run)


def current(state, resource: str) -> tuple[int, str]:
    """(ready provisioned instances, the last start error) for a provision config's resource."""
    key = state.pools.provisioned.get(resource)
    pool = state.pools.find(key) if key else None
    registry = state.pools.registry
    if key is None and registry is not None and registry.peers:  # configured through another replica
        try:
            key = state.invoker.targets.spec_for(*resource.split("#", 3)).key
        except Exception:  # noqa: BLE001 - the function is gone: nothing runs
            key = None
    elsewhere = registry.count_elsewhere(key, provisioned=True, ready=True) if registry is not None and key else 0
    if pool is None:
        return elsewhere, ""
    return pool.provisioned_count() + elsewhere, pool.provision_error or pool.provision_shortfall


def resource_name(account: str, service: str, qualifier: str, function: str) -> str:
    return f"{account}#{service}#{qualifier}#{function}"


def restore(state) -> int:
    """At start-up: pre-warm every stored provision config again (blocking; from a worker thread)."""
    from sqlalchemy import select

    from emulator.store.resources import ResourceRow

    with state.db.read() as s:
        rows = list(s.scalars(select(ResourceRow).where(ResourceRow.kind == "provision")))
    started = 0
    for row in rows:
        target = int(row.body.get("target") or 0)
        _, service, qualifier, function = row.name.split("#", 3)
        if target > 0:
            try:
                apply(state, row.account_id, service, qualifier, function, target)
                started += min(target, state.pools.max_instances)
            except Exception as exc:  # noqa: BLE001 - a config whose function is gone must not stop start-up
                log.warning("provision config %s not restored: %s", row.name, exc)
    return started
