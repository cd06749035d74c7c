"""Races over real HTTP: no acknowledged write is lost, on every database and server the README offers.

Each test runs four times (the ``raced`` fixture): the example app on a SQLite file in WAL mode (its
default) and on PostgreSQL, each under a threaded server (what ``flask run`` runs) and under gunicorn
(2 worker processes x 4 threads).  The database is fresh, built with ``flask_migrate.upgrade()`` (the
deployment path, not ``create_all``) and seeded.  Each race fires its requests from threads released
together by a barrier, each on its own ``http.client`` connection with a bounded timeout.  The
PostgreSQL runs skip with the reason when PostgreSQL is unreachable, except under ``CI=true``.

What the store guarantees (store.py, ``Store.begin_write``): a write holds the write lock on what it
changes from its first read to its commit (``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` on
PostgreSQL), and link attributes change by set operations on the ids a request names.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from flask_scim_entitlements import signals

from .conftest import GROUP_URN, PATCH_URN, USER_URN, Reply, Served, assert_scim_error, gunicorn, migrated_postgres

PARALLEL = 24
ROUNDS = 3
TIMEOUT = 60.0

TRIED: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _figures() -> Any:
    yield
    if TRIED:
        print("\n==== concurrency figures ====")
        for key, value in sorted(TRIED.items()):
            print(f"  {key}: {value}")


def race(calls: list[Callable[[], Reply]]) -> list[Reply | BaseException]:
    """Run every call at once (threads behind a barrier); return replies (or exceptions) in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Reply | BaseException] = [RuntimeError("not run")] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=TIMEOUT)
            results[i] = calls[i]()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT + 10)
    assert not any(t.is_alive() for t in threads), "a request did not finish within its timeout"
    return results


def _statuses(results: list[Reply | BaseException]) -> list[int]:
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"requests failed at the transport level: {errors[:3]}"
    for r in results:
        assert isinstance(r, Reply)
        if r.status >= 400:
            assert_scim_error(r.status, r.body)
    return [r.status for r in results if isinstance(r, Reply)]


def _user_body(user_name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [USER_URN], "userName": user_name, "name": {"givenName": "Race", "familyName": "Condition"},
            "emails": [{"value": user_name, "primary": True, "type": "work"}], "active": True, **extra}


def _create_user(served: Served, user_name: str) -> str:
    reply = served.request("POST", "/Users", _user_body(user_name))
    assert reply.status == 201, reply.body[:300]
    return str(reply.json()["id"])


@pytest.mark.parametrize("variant", ["same-case", "case-variants"])
def test_parallel_creates_of_one_user_name_make_exactly_one_user(raced: Served, variant: str) -> None:
    """userName is unique per tenant, case-insensitively (caseExact false): one 201, the rest 409, no 500,
    one row."""
    for _ in range(ROUNDS):
        base = f"Race.{uuid.uuid4().hex[:8]}@gridco.example"
        names = [base] * PARALLEL if variant == "same-case" else \
            [base.upper() if i % 3 == 0 else base.lower() if i % 3 == 1 else base for i in range(PARALLEL)]
        statuses = _statuses(race([lambda n=n: raced.request("POST", "/Users", _user_body(n), timeout=TIMEOUT)
                                   for n in names]))
        TRIED[f"parallel POST /Users ({variant})"] += PARALLEL
        rows = raced.sql("SELECT count(*) FROM users WHERE lower(user_name) = :n", n=base.lower())[0][0]
        assert Counter(statuses) == Counter({201: 1, 409: PARALLEL - 1}) and rows == 1, \
            f"statuses {sorted(Counter(statuses).items())}, rows for {base!r}: {rows}"


@pytest.fixture(scope="module")
def raced_without_lower_index(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The example app under gunicorn (2 x 4) on PostgreSQL, its ``UNIQUE (org_id, lower(user_name))`` index
    dropped: only the case-sensitive ``UNIQUE (org_id, user_name)`` is left, so the store's advisory lock
    is what keeps case variants apart (unique_indexes.py: the lock is skipped only where an index does it)."""
    with migrated_postgres(postgres_url) as (url, app):
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("DROP INDEX ix_users_org_lower_user_name"))
        engine.dispose()
        log = tmp_path_factory.mktemp("no-lower-index") / "gunicorn.log"
        with gunicorn(url, app, "", log, workers=2, threads=4) as server:
            yield server


def test_without_a_case_insensitive_unique_index_parallel_case_variant_creates_still_make_one_user(
        raced_without_lower_index: Served) -> None:
    served = raced_without_lower_index
    for _ in range(ROUNDS):
        base = f"Lock.{uuid.uuid4().hex[:8]}@gridco.example"
        names = [base.upper() if i % 3 == 0 else base.lower() if i % 3 == 1 else base for i in range(PARALLEL)]
        statuses = _statuses(race([lambda n=n: served.request("POST", "/Users", _user_body(n), timeout=TIMEOUT)
                                   for n in names]))
        TRIED["parallel POST /Users (case variants, no lower() index)"] += PARALLEL
        rows = served.sql("SELECT count(*) FROM users WHERE lower(user_name) = :n", n=base.lower())[0][0]
        assert Counter(statuses) == Counter({201: 1, 409: PARALLEL - 1}) and rows == 1, \
            f"statuses {sorted(Counter(statuses).items())}, rows for {base!r}: {rows}"


def test_parallel_creates_of_one_group_display_name_make_exactly_one_group(raced: Served) -> None:
    """The server refuses a second group of the same displayName (409 uniqueness); in parallel too."""
    for _ in range(ROUNDS):
        name = f"Race Group {uuid.uuid4().hex[:8]}"
        body = {"schemas": [GROUP_URN], "displayName": name}
        statuses = _statuses(race([lambda body=body: raced.request("POST", "/Groups", body, timeout=TIMEOUT)
                                   for _ in range(PARALLEL)]))
        TRIED["parallel POST /Groups (same displayName)"] += PARALLEL
        rows = raced.sql("SELECT count(*) FROM groups WHERE lower(name) = :n", n=name.lower())[0][0]
        assert Counter(statuses) == Counter({201: 1, 409: PARALLEL - 1}) and rows == 1, \
            f"statuses {sorted(Counter(statuses).items())}, rows for {name!r}: {rows}"


def test_parallel_member_adds_to_one_group_lose_no_member(raced: Served) -> None:
    tag = uuid.uuid4().hex[:8]
    users = [_create_user(raced, f"member{i}.{tag}@gridco.example") for i in range(PARALLEL)]
    group = raced.request("POST", "/Groups", {"schemas": [GROUP_URN], "displayName": f"Crowd {tag}"})
    assert group.status == 201, group.body[:300]
    gid = group.json()["id"]
    statuses = _statuses(race([
        lambda u=u: raced.request("PATCH", f"/Groups/{gid}", {"schemas": [PATCH_URN], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": u}]}]}, timeout=TIMEOUT) for u in users]))
    TRIED["parallel PATCH add member (one group)"] += PARALLEL
    assert all(s == 204 for s in statuses), sorted(Counter(statuses).items())  # no 409 for different members
    members = {m["value"] for m in raced.request("GET", f"/Groups/{gid}").json().get("members", [])}
    rows = {str(r[0]) for r in raced.sql("SELECT user_id FROM group_members WHERE group_id = :g", g=int(gid))}
    assert members == set(users) and rows == set(users), f"lost: {sorted(set(users) - rows)}"


def test_parallel_member_adds_and_removes_on_one_group_apply_every_change(raced: Served) -> None:
    tag = uuid.uuid4().hex[:8]
    half = PARALLEL // 2
    leaving = [_create_user(raced, f"leaving{i}.{tag}@gridco.example") for i in range(half)]
    joining = [_create_user(raced, f"joining{i}.{tag}@gridco.example") for i in range(half)]
    group = raced.request("POST", "/Groups", {"schemas": [GROUP_URN], "displayName": f"Churn {tag}",
                                               "members": [{"value": u} for u in leaving]})
    assert group.status == 201, group.body[:300]
    gid = group.json()["id"]
    ops = [{"op": "add", "path": "members", "value": [{"value": u}]} for u in joining] + \
          [{"op": "remove", "path": f'members[value eq "{u}"]'} for u in leaving]
    statuses = _statuses(race([lambda op=op: raced.request("PATCH", f"/Groups/{gid}", {
        "schemas": [PATCH_URN], "Operations": [op]}, timeout=TIMEOUT) for op in ops]))
    TRIED["parallel PATCH add/remove member (one group)"] += len(ops)
    assert all(s in (200, 204) for s in statuses), sorted(Counter(statuses).items())
    rows = {str(r[0]) for r in raced.sql("SELECT user_id FROM group_members WHERE group_id = :g", g=int(gid))}
    assert rows == set(joining), f"missing {sorted(set(joining) - rows)}, not removed {sorted(rows - set(joining))}"


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_parallel_writes_with_the_same_if_match_version_let_exactly_one_win(raced: Served, method: str) -> None:
    """Optimistic concurrency (RFC 7644 §3.14): of N writes naming the same version, one 200 and N-1 412,
    and the stored value is the winner's (no lost update)."""
    for _ in range(ROUNDS):
        name = f"ifmatch.{uuid.uuid4().hex[:8]}@gridco.example"
        uid = _create_user(raced, name)
        current = raced.request("GET", f"/Users/{uid}")
        etag = current.headers["etag"]

        def write(i: int, name: str = name, uid: str = uid, etag: str = etag) -> Reply:
            if method == "PUT":
                body: Any = _user_body(name, displayName=f"writer {i}")
            else:
                body = {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "displayName",
                                                                "value": f"writer {i}"}]}
            return raced.request(method, f"/Users/{uid}", body, headers={"If-Match": etag}, timeout=TIMEOUT)

        results = race([lambda i=i: write(i) for i in range(PARALLEL)])
        statuses = _statuses(results)
        TRIED[f"parallel {method} If-Match (same version)"] += PARALLEL
        assert Counter(statuses) == Counter({200: 1, 412: PARALLEL - 1}), sorted(Counter(statuses).items())
        winner = next(r for r in results if isinstance(r, Reply) and r.status == 200).json()["displayName"]
        stored = raced.request("GET", f"/Users/{uid}").json()
        assert stored["displayName"] == winner, f"lost update: stored {stored['displayName']!r}, 200 for {winner!r}"


def _ids(raced: Served, endpoint: str) -> dict[str, str]:
    return {r["displayName"]: r["id"] for r in raced.request("GET", endpoint).json()["Resources"]}


def test_parallel_role_and_entitlement_grants_and_revocations_on_one_user_apply_every_change(raced: Served) -> None:
    """A revocation acknowledged is kept: no request works from a stale copy and puts a revoked role back."""
    roles, traits = _ids(raced, "/Roles"), _ids(raced, "/Characteristics")
    todoer, auditor, manager = roles["Todo-er"], roles["Todo Auditor"], roles["Manager"]
    trait = sorted(traits.values())[0]
    for _ in range(ROUNDS):
        uid = _create_user(raced, f"grants.{uuid.uuid4().hex[:8]}@gridco.example")
        granted = raced.request("PATCH", f"/Users/{uid}", {"schemas": [PATCH_URN], "Operations": [
            {"op": "add", "path": "roles", "value": [{"value": manager}, {"value": auditor}]}]})
        assert granted.status == 200, granted.body[:300]
        third = PARALLEL // 3
        ops = [{"op": "remove", "path": f'roles[value eq "{manager}"]'}] * third + \
              [{"op": "add", "path": "roles", "value": [{"value": todoer}]}] * third + \
              [{"op": "add", "path": "entitlements", "value": [{"value": trait, "type": "Characteristic"}]}] * third
        statuses = _statuses(race([lambda op=op, uid=uid: raced.request("PATCH", f"/Users/{uid}", {
            "schemas": [PATCH_URN], "Operations": [op]}, timeout=TIMEOUT) for op in ops]))
        TRIED["parallel PATCH grant/revoke (one user)"] += len(ops)
        assert all(s == 200 for s in statuses), sorted(Counter(statuses).items())
        user = raced.request("GET", f"/Users/{uid}").json()
        assert {r["value"] for r in user.get("roles", [])} == {auditor, todoer}, user.get("roles")
        assert [e["value"] for e in user.get("entitlements", [])] == [trait], user.get("entitlements")


def test_parallel_put_and_patch_on_one_user_end_in_the_state_of_the_last_acknowledged_write(raced: Served) -> None:
    """Writes are serialised: the stored user is exactly what the last write to commit answered."""
    roles = _ids(raced, "/Roles")
    for _ in range(ROUNDS):
        name = f"putpatch.{uuid.uuid4().hex[:8]}@gridco.example"
        uid = _create_user(raced, name)

        def put(i: int, uid: str = uid, name: str = name) -> Reply:
            return raced.request("PUT", f"/Users/{uid}", _user_body(
                name, displayName=f"put {i}", roles=[{"value": roles["Todo-er"]}]), timeout=TIMEOUT)

        def patch(i: int, uid: str = uid) -> Reply:
            return raced.request("PATCH", f"/Users/{uid}", {"schemas": [PATCH_URN], "Operations": [
                {"op": "add", "path": "roles", "value": [{"value": roles["Manager"]}]},
                {"op": "replace", "path": "name.givenName", "value": f"patch {i}"}]}, timeout=TIMEOUT)

        calls = [lambda i=i: put(i) for i in range(PARALLEL // 2)] + \
            [lambda i=i: patch(i) for i in range(PARALLEL // 2)]
        results = race(calls)
        statuses = _statuses(results)
        TRIED["parallel PUT vs PATCH (one user)"] += len(calls)
        assert all(s == 200 for s in statuses), sorted(Counter(statuses).items())
        answers = [r.json() for r in results if isinstance(r, Reply)]
        versions = [a["meta"]["version"] for a in answers]
        assert len(set(versions)) == len(versions), "two acknowledged writes answered the same version"
        stored = raced.request("GET", f"/Users/{uid}").json()
        # Serialised writes: the stored user is the state one write answered (the last to commit), whole.
        assert stored["meta"]["version"] in versions, "the stored user is a state no write answered"
        winner = answers[versions.index(stored["meta"]["version"])]
        for key in ("displayName", "name", "roles"):
            assert stored.get(key) == winner.get(key), (key, stored.get(key), winner.get(key))


def test_parallel_deletes_of_one_user_give_one_204_and_the_rest_404(raced: Served) -> None:
    """Serialised deletes: one 204, the others find nothing (404), and, where the test can see the server's
    signals (the threaded servers), ``user_deleted`` is sent once."""
    deleted: list[str] = []

    def subscriber(sender: Any, **kwargs: Any) -> None:
        deleted.append(kwargs["id"])

    signals.user_deleted.connect(subscriber)
    try:
        for _ in range(ROUNDS):
            uid = _create_user(raced, f"deleted.{uuid.uuid4().hex[:8]}@gridco.example")
            deleted.clear()
            statuses = _statuses(race([lambda uid=uid: raced.request("DELETE", f"/Users/{uid}", timeout=TIMEOUT)
                                       for _ in range(PARALLEL // 2)]))
            TRIED["parallel DELETE (one user)"] += PARALLEL // 2
            assert Counter(statuses) == Counter({204: 1, 404: PARALLEL // 2 - 1}), sorted(Counter(statuses).items())
            if raced.in_process:
                assert deleted == [uid], deleted
    finally:
        signals.user_deleted.disconnect(subscriber)


def test_parallel_deactivations_of_one_user_send_user_deactivated_exactly_once(raced_in_process: Served) -> None:
    """Each committed change is signalled once: the deactivations after the first change nothing."""
    raced = raced_in_process
    sent: list[str] = []

    def subscriber(sender: Any, **kwargs: Any) -> None:
        sent.append(kwargs["id"])

    signals.user_deactivated.connect(subscriber)
    try:
        for _ in range(ROUNDS):
            uid = _create_user(raced, f"deactivated.{uuid.uuid4().hex[:8]}@gridco.example")
            sent.clear()
            body = {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "value": {"active": False}}]}
            statuses = _statuses(race([lambda uid=uid, body=body: raced.request("PATCH", f"/Users/{uid}", body,
                                                                        timeout=TIMEOUT)
                                       for _ in range(PARALLEL // 2)]))
            TRIED["parallel PATCH active=false (one user)"] += PARALLEL // 2
            assert all(s == 200 for s in statuses), sorted(Counter(statuses).items())
            assert sent == [uid], f"user_deactivated sent {len(sent)} times"
    finally:
        signals.user_deactivated.disconnect(subscriber)
