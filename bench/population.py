"""The seeded population's shape, shared by every server (no dependencies: the peers import it too)."""

from __future__ import annotations

TENANT = "bench.example"


def user_name(i: int) -> str:
    """userName of seeded user i (1-based)."""
    return f"user{i:06d}@bench.example"


def group_member(i: int, groups: int) -> int | None:
    """The regular group seeded user i belongs to (every other user is in one)."""
    return 1 + i % groups if groups and i % 2 == 0 else None


#: The large groups, after the regular ones: (name, members) -> users 1..members.
LARGE_GROUP_SIZES = {"10k": 10_000, "all": None}


def large_groups(users: int, groups: int) -> dict[str, tuple[int, int]]:
    """name -> (integer id, members): "10k" holds users 1..10,000 (fewer in small runs), "all" every user."""
    out = {}
    for n, (name, size) in enumerate(LARGE_GROUP_SIZES.items(), 1):
        out[name] = (groups + n, users if size is None else min(size, users))
    return out
