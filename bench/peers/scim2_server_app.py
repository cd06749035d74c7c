"""scim2-server (python-scim's reference server) as a WSGI app, seeded in memory through its storage API.

Its storage is in memory and per process: each gunicorn worker seeds its own copy (the
benchmark runs it with the same workers and threads as every server, and only reads, plus
POSTs of distinct users, so the copies never need to agree).  Seeded users get the ids
"1".."N" and groups "g1".."gM" (by overriding ``generate_id``), so the benchmark can address them.

Environment: BENCH_USERS, BENCH_GROUPS, BENCH_TOKEN.  Run with the peers virtualenv:

    /tmp/bench-peers/bin/gunicorn bench.peers.scim2_server_app:application
"""

from __future__ import annotations

import os
import time
from typing import Any

from scim2_models import Email, Group, GroupMember, Name, ScimProvider, User
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

from ..population import group_member, large_groups, user_name


class SeededStorage(InMemoryStorage):
    next_id: str | None = None

    def generate_id(self, resource_type: Any, resource: Any) -> str:
        if self.next_id is not None:
            return self.next_id
        return super().generate_id(resource_type, resource)


def build() -> BearerTokenApplication:
    users = int(os.environ.get("BENCH_USERS", "1000"))
    groups = int(os.environ.get("BENCH_GROUPS", "10"))
    token = os.environ.get("BENCH_TOKEN", "")
    resource_types = load_default_resource_types()
    config = load_default_service_provider_config()
    config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(load_default_schemas().values(), resource_types.values(), config=config)
    storage = SeededStorage()
    started = time.perf_counter()
    user_rt, group_rt = resource_types["User"], resource_types["Group"]
    members: dict[int, list[GroupMember]] = {}
    for i in range(1, users + 1):
        name = user_name(i)
        storage.next_id = str(i)
        storage.create(user_rt, User(user_name=name, external_id=f"okta-{i:08d}", display_name=f"First{i} Last{i}",
                                     name=Name(given_name=f"First{i}", family_name=f"Last{i}"), active=True,
                                     emails=[Email(value=name, type="work", primary=True)]))
        g = group_member(i, groups)
        if g is not None:
            members.setdefault(g, []).append(GroupMember(value=str(i), type="User"))
    for g in range(1, groups + 1):
        storage.next_id = f"g{g}"
        storage.create(group_rt, Group(display_name=f"Group {g:05d}", external_id=f"okta-g{g:06d}",
                                       members=members.get(g) or None))
    for name, (gid, size) in large_groups(users, groups).items():
        storage.next_id = f"g{gid}"
        storage.create(group_rt, Group(display_name=f"Large {name}",
                                       members=[GroupMember(value=str(i), type="User") for i in range(1, size + 1)]))
    storage.next_id = None
    print(f"scim2-server seeded {users} users, {groups} groups in {time.perf_counter() - started:.1f} s", flush=True)
    service = ScimService(provider, secret=os.environ.get("SCIM2_SERVER_SECRET") or "bench-secret")
    return BearerTokenApplication(storage, provider, service=service, bearer_tokens=[token] if token else [])


application = build()
