"""Create the django-scim2 peer's database, schema and population (bulk inserts), with its lookup's index.

    BENCH_DJANGO_PG_DB=... /tmp/bench-peers/bin/python -m bench.peers.django_project.seed USERS GROUPS
"""

import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.peers.django_project.settings")

import django  # noqa: E402
import psycopg  # noqa: E402

NAME = os.environ.get("BENCH_DJANGO_PG_DB", "scim_bench_django")
with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as admin:
    admin.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{NAME}"')

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.peers.django_project.scimpeer.models import Group, User  # noqa: E402
from bench.population import group_member, large_groups, user_name  # noqa: E402

BATCH = 5000


def main() -> None:
    users, groups = int(sys.argv[1]), int(sys.argv[2])
    started = time.perf_counter()
    call_command("migrate", "auth", verbosity=0)  # the unmigrated app's tables refer to auth's
    call_command("migrate", run_syncdb=True, verbosity=0)
    now = timezone.now()
    User.objects.bulk_create(
        (User(id=i, username=user_name(i), scim_id=str(i), scim_username=user_name(i),
              scim_external_id=f"okta-{i:08d}", email=user_name(i), first_name=f"First{i}", last_name=f"Last{i}",
              is_active=True, password="!", date_joined=now) for i in range(1, users + 1)), batch_size=BATCH)
    large = large_groups(users, groups)
    Group.objects.bulk_create([Group(id=g, name=f"Group {g:05d}", scim_id=str(g), scim_display_name=f"Group {g:05d}")
                               for g in range(1, groups + 1)]
                              + [Group(id=g, name=f"Large {name}", scim_id=str(g), scim_display_name=f"Large {name}")
                                 for name, (g, _size) in large.items()], batch_size=BATCH)
    through = Group.user_set.through
    through.objects.bulk_create(
        (through(group_id=group_member(i, groups), user_id=i) for i in range(1, users + 1)
         if group_member(i, groups) is not None), batch_size=BATCH)
    for g, size in large.values():
        through.objects.bulk_create((through(group_id=g, user_id=i) for i in range(1, size + 1)), batch_size=BATCH)
    with connection.cursor() as cursor:
        # django-scim2's filter compiles `userName eq` to UPPER(username) = UPPER(%s) (scim2-filter-parser):
        # the index a user would add for it (scim_id, which GET by id uses, is unique: indexed already).
        cursor.execute("CREATE INDEX scimpeer_user_upper_username ON scimpeer_user (UPPER(username))")
        cursor.execute("SELECT setval(pg_get_serial_sequence('scimpeer_user', 'id'), "
                       "(SELECT max(id) FROM scimpeer_user))")
        cursor.execute("SELECT setval(pg_get_serial_sequence('scimpeer_group', 'id'), "
                       "(SELECT max(id) FROM scimpeer_group))")
        cursor.execute("ANALYZE")
    print(f"django-scim2 seeded {users} users, {groups} groups in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
