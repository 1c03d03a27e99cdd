"""Schemathesis hooks for tests/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

Random names almost never hit an existing resource, so half the generated path parameters are
replaced by the resources the test creates first, and most requests stay in the default account
where they live: fuzzed bodies then reach the update, publish and invoke code, not only the 404s.
"""
from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

# The resources test_schemathesis.py creates in the default account.
SEEDS = {
    "service": ["svc", "svc.prod", "svc.1", "svc.LATEST"],
    "function": ["fn"],
    "trigger": ["trg"],
    "alias": ["prod"],
    "layer": ["lyr"],
    "version": ["1"],
    "version_id": ["1"],
    "domain": ["example.com"],
}


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    if not path_parameters or context.operation.path.endswith("/provision-config"):
        # not on the seeded function: a fuzzed target (up to 10000) makes the emulator start that many
        # instances (reported to the lead; a 5xx hunt must not fork-bomb a shared CI machine)
        return st.just(path_parameters)
    seeded = {k: st.sampled_from(SEEDS[k]) for k in path_parameters if k in SEEDS}
    if not seeded:
        return st.just(path_parameters)
    return st.one_of(st.just(path_parameters),
                     st.fixed_dictionaries(seeded).map(lambda s: {**path_parameters, **s}))


@schemathesis.hook
def flatmap_headers(context, headers):
    if not headers or "X-Fc-Account-Id" not in headers:
        return st.just(headers)
    without = {k: v for k, v in headers.items() if k != "X-Fc-Account-Id"}
    return st.sampled_from([without, without, without, headers])
