"""Create the django-scim2 peer's schema and population with bulk inserts.

    BENCH_DJANGO_DB=... /tmp/bench-peers/bin/python -m bench.peers.django_project.seed USERS GROUPS
"""

import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.peers.django_project.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.peers.django_project.scimpeer.models import Group, User  # noqa: E402
from bench.population import group_member, patch_group_ids, user_name  # noqa: E402

BATCH = 5000


def main() -> None:
    users, groups = int(sys.argv[1]), int(sys.argv[2])
    started = time.perf_counter()
    call_command("migrate", run_syncdb=True, verbosity=0)
    now = timezone.now()
    User.objects.bulk_create(
        (User(id=i, username=user_name(i), scim_id=str(i), scim_username=user_name(i),
              scim_external_id=f"okta-{i:08d}", email=user_name(i), first_name=f"First{i}", last_name=f"Last{i}",
              is_active=True, password="!", date_joined=now) for i in range(1, users + 1)), batch_size=BATCH)
    extra = [gid for ids in patch_group_ids(users, groups).values() for gid in ids]
    Group.objects.bulk_create([Group(id=g, name=f"Group {g:05d}", scim_id=str(g), scim_display_name=f"Group {g:05d}")
                               for g in range(1, groups + 1)]
                              + [Group(id=g, name=f"Patch #{g}", scim_id=str(g), scim_display_name=f"Patch #{g}")
                                 for g in extra], batch_size=BATCH)
    through = Group.user_set.through
    through.objects.bulk_create(
        (through(group_id=group_member(i, groups), user_id=i) for i in range(1, users + 1)
         if group_member(i, groups) is not None), batch_size=BATCH)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"django-scim2 seeded {users} users, {groups} groups in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
