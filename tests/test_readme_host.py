"""The host app of README.md's "Use it in your app", run as written, registered with ``app.register_blueprint``.

The README's code block is executed as a module (nothing here adds to it), then mounted both ways the
README shows: at ``SCIM_URL_PREFIX`` and with the tenant in the path.  Each runs Okta's SPEC steps and
its entitlement steps (the same functions the example app runs, ``okta_steps.py``) on SQLite and
PostgreSQL; the tenant-in-path mount is checked for what a wrong segment does.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Scim, issue_token, new_user
from .okta_steps import okta_entitlement_steps, okta_spec_steps

README = Path(__file__).resolve().parent.parent / "README.md"
ACME_URN = "urn:example:scim:schemas:extension:acme:1.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@functools.cache
def readme_host() -> types.ModuleType:
    """The README's host code: every ```python block of the "Use it in your app" section, as one module."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Use it in your app", 1)[1].split("\n## ", 1)[0]
    code = "\n".join(re.findall(r"```python\n(.*?)```", section, flags=re.S))
    module = types.ModuleType("readme_host")
    sys.modules[module.__name__] = module  # SQLAlchemy resolves annotations through the model's module
    exec(compile(code, str(README), "exec"), module.__dict__)  # noqa: S102 - the README is ours
    return module


MOUNTS = {"prefix": ({}, "/scim/v2"), "tenant-in-path": ({"SCIM_URL_PREFIX": "/scim/v2/<tenant>"}, "/scim/v2/acme")}


@contextlib.contextmanager
def running(database_url: str, mount: str) -> Iterator[tuple[Any, Scim]]:
    """The README's app on ``database_url``, seeded, with a token of tenant ``acme``, mounted as ``mount`` says."""
    module = readme_host()
    config, prefix = MOUNTS[mount]
    app = module.create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True, **config})
    db = module.db
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.session.add_all([module.Role(name=n, description=f"{n} role") for n in ("Viewer", "Editor")])
        db.session.add(module.License(name="Pro"))
        db.session.add(module.User(org="acme", user_name="ann@acme.example", first_name="Ann", last_name="Smith",
                                   email="ann@acme.example", active=True))
        db.session.add(module.User(org="globex", user_name="gus@globex.example", first_name="Gus",
                                   last_name="Grey", email="gus@globex.example", active=True))
        db.session.commit()
    try:
        yield app, Scim(app.test_client(), issue_token(app, "acme"), prefix)
    finally:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


@pytest.fixture(params=list(MOUNTS))
def host(request: pytest.FixtureRequest, database_url: str) -> Iterator[tuple[Any, Scim]]:
    with running(database_url, request.param) as running_host:
        yield running_host


@pytest.fixture
def tenant_host(database_url: str) -> Iterator[tuple[Any, Scim]]:
    with running(database_url, "tenant-in-path") as running_host:
        yield running_host


def test_the_readme_host_passes_okta_spec_steps(host: tuple[Any, Scim]) -> None:
    okta_spec_steps(host[1])


def test_the_readme_host_passes_okta_entitlement_steps(host: tuple[Any, Scim]) -> None:
    okta_entitlement_steps(host[1])


def test_the_readme_host_extension_attribute_round_trips(host: tuple[Any, Scim]) -> None:
    scim = host[1]
    user = new_user(scim, "cc@acme.example", **{ACME_URN: {"costCenter": "CC-1"}})
    assert user[ACME_URN] == {"costCenter": "CC-1"} and ACME_URN in user["schemas"]
    ops = [{"op": "replace", "path": f"{ACME_URN}:costCenter", "value": "CC-2"}]
    assert scim.patch(f"/Users/{user['id']}", {"schemas": [PATCH], "Operations": ops}).get_json()[ACME_URN] == {
        "costCenter": "CC-2"}
    found = scim.get(f'/Users?filter={ACME_URN}:costCenter eq "CC-2"').get_json()["Resources"]
    assert [u["id"] for u in found] == [user["id"]]


def test_meta_location_and_member_refs_carry_the_mounted_prefix(host: tuple[Any, Scim]) -> None:
    scim = host[1]
    user = new_user(scim, "loc@acme.example")
    assert user["meta"]["location"] == f"http://localhost{scim.prefix}/Users/{user['id']}"
    group = scim.post("/Groups", {"displayName": "Ops", "members": [{"value": user["id"]}]}).get_json()
    assert group["members"][0]["$ref"] == f"http://localhost{scim.prefix}/Users/{user['id']}"
    created = scim.get(f"/Groups/{group['id']}").get_json()
    assert created["meta"]["location"] == f"http://localhost{scim.prefix}/Groups/{group['id']}"


def test_a_path_naming_another_tenant_is_a_scim_404(tenant_host: tuple[Any, Scim]) -> None:
    app, acme = tenant_host
    globex = Scim(acme.client, issue_token(app, "globex"), "/scim/v2/globex")
    for path in ("/Users", "/ServiceProviderConfig", "/Users/1", "/Nope"):
        r = acme.client.get(f"/scim/v2/globex{path}", headers=acme.headers())
        assert r.status_code == 404, path
        assert r.content_type.startswith("application/scim+json") and r.get_json()["status"] == "404"
    # Its own segment works for each tenant, and shows only that tenant's users.
    assert [u["userName"] for u in globex.get("/Users").get_json()["Resources"]] == ["gus@globex.example"]
    assert [u["userName"] for u in acme.get("/Users").get_json()["Resources"]] == ["ann@acme.example"]
    # A segment no tenant_loader knows, and no credential at all: 404 and 401 as SCIM errors.
    assert acme.client.get("/scim/v2/nobody/Users", headers=acme.headers()).status_code == 404
    unauthenticated = acme.client.get("/scim/v2/acme/Users")
    assert unauthenticated.status_code == 401 and unauthenticated.get_json()["status"] == "401"


def test_a_write_under_another_tenants_path_changes_nothing(tenant_host: tuple[Any, Scim]) -> None:
    app, acme = tenant_host
    other = Scim(acme.client, acme.token, "/scim/v2/globex")
    r = other.post("/Users", {"userName": "x@acme.example"})
    assert r.status_code == 404
    assert acme.get('/Users?filter=userName eq "x@acme.example"').get_json()["totalResults"] == 0
