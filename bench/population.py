"""The seeded population's shape, shared by every server (no dependencies: the peers import it too)."""

from __future__ import annotations

TENANT = "bench.example"


def user_name(i: int) -> str:
    """userName of seeded user i (1-based)."""
    return f"user{i:06d}@bench.example"


def patch_sizes(users: int) -> list[int]:
    """Sizes of the membership PATCH runs the population allows."""
    return [n for n in (1_000, 10_000, 100_000) if n <= users]


def patch_runs(size: int) -> int:
    """Empty groups seeded per size: one PATCH each."""
    return 3 if size <= 10_000 else 1


def group_member(i: int, groups: int) -> int | None:
    """The regular group seeded user i belongs to (every other user is in one)."""
    return 1 + i % groups if groups and i % 2 == 0 else None


def patch_group_ids(users: int, groups: int) -> dict[int, list[int]]:
    """Integer ids of the empty groups for the membership PATCH runs: right after the regular groups."""
    ids, next_id = {}, groups + 1
    for size in patch_sizes(users):
        ids[size] = list(range(next_id, next_id + patch_runs(size)))
        next_id += patch_runs(size)
    return ids
