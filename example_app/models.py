"""The Todo app's own models.  The SCIM extension maps onto these; it owns none of them.

Ids are never reused (RFC 7643 §3.1: an id is never reassigned; Entra and Okta keep it as the anchor
of the account).  PostgreSQL sequences never hand a number out twice; SQLite reuses the largest
deleted rowid unless the table is declared ``AUTOINCREMENT``, hence ``sqlite_autoincrement`` on every
table with an integer id.  A signed-in session names the user by a random ``session_token``, not by
the row id, so a session can never open another user's account.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask_login import UserMixin
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


#: On SQLite, ids of deleted rows are never handed out again (a no-op on other databases).
NEVER_REUSE_IDS: dict[str, Any] = {"sqlite_autoincrement": True}


group_members = sa.Table(
    "group_members",
    db.metadata,
    sa.Column("group_id", sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)

user_roles = sa.Table(
    "user_roles",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("role_id", sa.ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True),
)

#: IdP groups mapped to app roles by an org's admin: members of the group hold the role.
group_roles = sa.Table(
    "group_roles",
    db.metadata,
    sa.Column("group_id", sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("role_id", sa.ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True),
)

user_characteristics = sa.Table(
    "user_characteristics",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("characteristic_id", sa.ForeignKey("characteristics.id", ondelete="CASCADE"), primary_key=True,
              index=True),
)


class Org(db.Model):
    """A customer organisation: the tenant."""

    __tablename__ = "orgs"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(sa.String(255), unique=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")


class Role(db.Model):
    """An app role (Todo-er, Todo Auditor, Manager): what a user may do."""

    __tablename__ = "roles"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    description: Mapped[str | None] = mapped_column(sa.String(1000))
    #: The permission this role grants in the app (see example_app.web.PERMISSIONS).
    code: Mapped[str] = mapped_column(sa.String(50), unique=True)


class Characteristic(db.Model):
    """The workshop's custom entitlement type: a trait such as ``is_tall``."""

    __tablename__ = "characteristics"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    description: Mapped[str | None] = mapped_column(sa.String(1000))
    category: Mapped[str | None] = mapped_column(sa.String(100))


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        sa.UniqueConstraint("org_id", "user_name", name="uq_users_org_user_name"),
        # Okta looks users up by userName case-insensitively before every write (lower(user_name) = ...),
        # and userName is unique per org case-insensitively (interop.md §0.5).
        sa.Index("ix_users_org_lower_user_name", "org_id", sa.func.lower(sa.column("user_name")), unique=True),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    user_name: Mapped[str] = mapped_column(sa.String(255))
    first_name: Mapped[str | None] = mapped_column(sa.String(255))
    last_name: Mapped[str | None] = mapped_column(sa.String(255))
    display_name: Mapped[str | None] = mapped_column(sa.String(255))
    external_id: Mapped[str | None] = mapped_column(sa.String(255))
    #: None when a client removed the attribute (RFC 7644 §3.5.2.2); the app treats only True as active.
    active: Mapped[bool | None] = mapped_column(default=True)
    #: The app's own SCIM extension attribute (example_app/scim.py), shown on the admin page.
    team: Mapped[str | None] = mapped_column(sa.String(100))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    #: What the session cookie names (Flask-Login's user id): random, unique, never a row id.  NULL for a row
    #: inserted by raw SQL (a bulk load): one is given at the user's first sign-in.
    session_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True, index=True,
                                                      default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    org: Mapped[Org] = relationship()
    emails: Mapped[list[UserEmail]] = relationship(cascade="all, delete-orphan", order_by="UserEmail.id")
    roles: Mapped[list[Role]] = relationship(secondary=user_roles)
    characteristics: Mapped[list[Characteristic]] = relationship(secondary=user_characteristics)
    #: A deleted user's todos go with them (ON DELETE CASCADE in the database, the same in the session).
    todos: Mapped[list[Todo]] = relationship(back_populates="owner", cascade="all, delete-orphan",
                                             passive_deletes=True)
    groups: Mapped[list[Group]] = relationship(secondary=group_members, viewonly=True)

    def get_id(self) -> str:
        """Flask-Login's session key: the random token, so a new user can never inherit a session."""
        if self.session_token is None:
            self.end_sessions()
        return str(self.session_token)

    @property
    def is_active(self) -> bool:
        return self.active is True

    def end_sessions(self) -> None:
        """Sign the user out everywhere: sessions naming the old token no longer load anyone."""
        self.session_token = new_session_token()

    def set_password(self, password: str | None) -> None:
        self.password_hash = generate_password_hash(password) if password else None

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash or "", password)

    @property
    def full_name(self) -> str:
        return self.display_name or " ".join(p for p in (self.first_name, self.last_name) if p) or self.user_name


class UserEmail(db.Model):
    """A user's email addresses: SCIM ``emails`` (Entra sends work and other addresses)."""

    __tablename__ = "user_emails"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    value: Mapped[str] = mapped_column(sa.String(255))
    type: Mapped[str | None] = mapped_column(sa.String(50))
    display: Mapped[str | None] = mapped_column(sa.String(255))
    primary: Mapped[bool] = mapped_column(default=False)


class Group(db.Model):
    __tablename__ = "groups"
    # Entra requires unique group names; Okta matches pushed groups by displayName (interop.md §1.5, §5).
    __table_args__ = (sa.Index("ix_groups_org_lower_name", "org_id", sa.func.lower(sa.column("name")), unique=True),
                      NEVER_REUSE_IDS)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    external_id: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list[User]] = relationship(secondary=group_members)
    #: Roles the org's admin maps this group to (the admin page): every member holds them.
    roles: Mapped[list[Role]] = relationship(secondary=group_roles, order_by="Role.id")


class Todo(db.Model):
    __tablename__ = "todos"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(sa.String(500))
    completed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner: Mapped[User] = relationship(back_populates="todos")


class ActivityEvent(db.Model):
    """One SCIM write that changed something, as the admin page's activity log shows it.

    Built from the extension's signals (sent after the commit), so only what really changed is
    recorded: attribute names (never values, so never a password), roles and entitlements
    granted and revoked, members added and removed, by name.
    """

    __tablename__ = "activity_events"
    __table_args__ = (sa.Index("ix_activity_events_org_id_id", "org_id", "id"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: "created", "updated" or "deleted".
    action: Mapped[str] = mapped_column(sa.String(20))
    resource_type: Mapped[str] = mapped_column(sa.String(100))
    resource_id: Mapped[str] = mapped_column(sa.String(255))
    #: userName or displayName at the time of the event.
    label: Mapped[str] = mapped_column(sa.String(255), default="")
    #: ``{"attributes": [...], "active": bool, "granted": {type: [names]}, "revoked": ..., "added": [...],
    #: "removed": [...]}``, each key only when it applies.
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class RequestCount(db.Model):
    """SCIM requests that changed nothing (reads, refused writes), counted per org, endpoint and status."""

    __tablename__ = "request_counts"
    __table_args__ = (sa.UniqueConstraint("org_id", "method", "endpoint", "status", name="uq_request_counts_key"),
                      NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(sa.String(10))
    #: The route, e.g. ``/Users/{resource_id}``: never a query string, so never a secret.
    endpoint: Mapped[str] = mapped_column(sa.String(255))
    status: Mapped[int]
    count: Mapped[int] = mapped_column(default=0)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)
