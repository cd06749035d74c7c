"""Who may do what: a user's effective roles are their direct grants plus the roles of their groups.

Computed from the database on every request (the user's ``user_roles`` rows, and the
``group_members`` x ``group_roles`` join), never cached in the session or copied into derived
rows.  So whatever the identity provider changes through SCIM (a role revoked, a member
removed from a group, a group deleted) takes effect on the user's very next request, with no
signal handler to keep a copy in step: there is no copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import Group, Role, User, db, group_members, group_roles

#: What each role code allows (Role.code).  A user's permissions are the union over their roles.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "todoer": ("create", "complete_own", "read_own"),
    "auditor": ("read_all",),
    "manager": ("read_all", "delete_any", "admin"),
}

#: What each permission lets the user do, as /me explains it.
DESCRIPTIONS: dict[str, str] = {
    "create": "Create todos",
    "complete_own": "Complete your own todos",
    "read_own": "Read your own todos",
    "read_all": "Read every todo in the organisation",
    "delete_any": "Delete any todo in the organisation",
    "admin": "Open the admin page",
}


@dataclass(frozen=True)
class Grant:
    """A role the user holds, and where it comes from: a direct grant (``group`` None) or a group."""

    role: Role
    group: Group | None = None

    @property
    def source(self) -> str:
        return "granted to you directly" if self.group is None else f"member of group {self.group.name}"


def grants(user: User) -> list[Grant]:
    """Every role the user holds, once per source: direct grants first, then group by group."""
    direct = [Grant(role) for role in sorted(user.roles, key=lambda r: r.id)]
    via_groups = db.session.execute(
        db.select(Role, Group)
        .join(group_roles, group_roles.c.role_id == Role.id)
        .join(Group, Group.id == group_roles.c.group_id)
        .join(group_members, group_members.c.group_id == Group.id)
        .where(group_members.c.user_id == user.id, Group.org_id == user.org_id)
        .order_by(Role.id, Group.name, Group.id)).all()
    return direct + [Grant(role, group) for role, group in via_groups]


def permissions(held: list[Grant]) -> dict[str, list[Grant]]:
    """Each permission the grants allow, with the grants that allow it (in PERMISSIONS order)."""
    out: dict[str, list[Grant]] = {}
    for permission in DESCRIPTIONS:
        sources = [grant for grant in held if permission in PERMISSIONS.get(grant.role.code, ())]
        if sources:
            out[permission] = sources
    return out
