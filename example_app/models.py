"""The Todo app's own models.  The SCIM extension maps onto these; it owns none of them."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


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
    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(sa.String(255), unique=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")


class Role(db.Model):
    """An app role (Todo-er, Todo Auditor, Manager): what a user may do."""

    __tablename__ = "roles"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    description: Mapped[str | None] = mapped_column(sa.String(1000))
    #: The permission this role grants in the app (see example_app.web.PERMISSIONS).
    code: Mapped[str] = mapped_column(sa.String(50), unique=True)


class Characteristic(db.Model):
    """The workshop's custom entitlement type: a trait such as ``is_tall``."""

    __tablename__ = "characteristics"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    description: Mapped[str | None] = mapped_column(sa.String(1000))
    category: Mapped[str | None] = mapped_column(sa.String(100))


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (
        sa.UniqueConstraint("org_id", "user_name", name="uq_users_org_user_name"),
        # Okta looks users up by userName case-insensitively before every write (lower(user_name) = ...),
        # and userName is unique per org case-insensitively (interop.md §0.5).
        sa.Index("ix_users_org_lower_user_name", "org_id", sa.func.lower(sa.column("user_name")), unique=True),
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
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    org: Mapped[Org] = relationship()
    emails: Mapped[list[UserEmail]] = relationship(cascade="all, delete-orphan", order_by="UserEmail.id")
    roles: Mapped[list[Role]] = relationship(secondary=user_roles)
    characteristics: Mapped[list[Characteristic]] = relationship(secondary=user_characteristics)

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
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    value: Mapped[str] = mapped_column(sa.String(255))
    type: Mapped[str | None] = mapped_column(sa.String(50))
    display: Mapped[str | None] = mapped_column(sa.String(255))
    primary: Mapped[bool] = mapped_column(default=False)


class Group(db.Model):
    __tablename__ = "groups"
    # Entra requires unique group names; Okta matches pushed groups by displayName (interop.md §1.5, §5).
    __table_args__ = (sa.Index("ix_groups_org_lower_name", "org_id", sa.func.lower(sa.column("name")), unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    external_id: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list[User]] = relationship(secondary=group_members)


class Todo(db.Model):
    __tablename__ = "todos"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(sa.String(500))
    completed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner: Mapped[User] = relationship()


class ScimActivity(db.Model):
    """One request to the SCIM API, shown on the admin page so provisioning is visible.

    Only what is safe to show is stored: method, path (secrets in the query
    string already redacted), status and timing; never bodies or headers.
    """

    __tablename__ = "scim_activity"
    __table_args__ = (sa.Index("ix_scim_activity_org_id_id", "org_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The caller's org, or None when the request was not authenticated.
    org_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orgs.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(sa.String(10))
    path: Mapped[str] = mapped_column(sa.String(2000))
    status: Mapped[int]
    duration_ms: Mapped[float] = mapped_column(sa.Float())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
