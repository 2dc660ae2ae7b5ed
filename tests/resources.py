"""How to make one resource of each kind through the API, for the tenant-isolation walk.

A module registers a factory per path parameter it owns (`role_id`, `branch_id`, …). The walk
(tests/test_tenant_isolation.py) finds every operation whose path has such a parameter, makes
the resource in tenant A with the factory, then calls the operation with tenant B's
credential and expects 404 and no change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from tests.identity.factories import TenantFixture

#: `factory(client, tenant) -> id` of a new resource in `tenant`, made through the API.
ResourceFactory = Callable[[httpx.AsyncClient, TenantFixture], Awaitable[str]]

RESOURCE_FACTORIES: dict[str, ResourceFactory] = {}


def resource_factory(path_parameter: str) -> Callable[[ResourceFactory], ResourceFactory]:
    def register(factory: ResourceFactory) -> ResourceFactory:
        if path_parameter in RESOURCE_FACTORIES:
            raise ValueError(f"a factory for {path_parameter} is already registered")
        RESOURCE_FACTORIES[path_parameter] = factory
        return factory

    return register
