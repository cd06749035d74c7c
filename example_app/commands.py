"""``flask --app example_app seed``: idempotent demo data."""

from __future__ import annotations

import click
from flask import Flask, current_app

from .models import Characteristic, Org, Role, Todo, User, UserEmail, db

ROLES = [
    ("Todo-er", "todoer", "Create and complete your own todos"),
    ("Todo Auditor", "auditor", "Read every todo in the organisation"),
    ("Manager", "manager", "Delete any todo in the organisation and see the admin page"),
]
CHARACTERISTICS = [("is_tall", "The user is tall", "physical")]
#: The seeded people of gridco.example (password "password"): (email, first name, last name, role codes).
PEOPLE = [
    ("somnus@gridco.example", "Somnus", "Henderson", ["manager"]),
    ("trinity@gridco.example", "Trinity", "Moss", ["todoer"]),
]


def seed_data() -> Org:
    org = db.session.scalar(db.select(Org).filter_by(domain="gridco.example"))
    if org is None:
        org = Org(domain="gridco.example", name="GridCo")
        db.session.add(org)
        db.session.flush()
    roles = {}
    for name, code, description in ROLES:
        role = db.session.scalar(db.select(Role).filter_by(code=code))
        if role is None:
            role = Role(name=name, code=code, description=description)
            db.session.add(role)
        roles[code] = role
    for name, description, category in CHARACTERISTICS:
        if db.session.scalar(db.select(Characteristic).filter_by(name=name)) is None:
            db.session.add(Characteristic(name=name, description=description, category=category))
    for email, first, last, role_codes in PEOPLE:
        user = db.session.scalar(db.select(User).filter_by(org_id=org.id, user_name=email))
        if user is None:
            user = User(org_id=org.id, user_name=email, first_name=first, last_name=last,
                        display_name=f"{first} {last}", active=True,
                        emails=[UserEmail(value=email, type="work", primary=True)])
            user.set_password("password")
            user.roles = [roles[c] for c in role_codes]
            db.session.add(user)
            db.session.flush()
            db.session.add(Todo(org_id=org.id, owner_id=user.id, title=f"{first}'s first todo"))
    db.session.commit()
    return org


def register(app: Flask) -> None:
    from . import database_problem

    @app.cli.command("seed")
    def seed() -> None:
        """Create the demo org gridco.example, its roles, users and todos (idempotent)."""
        try:
            org = seed_data()
        except Exception as exc:
            problem = database_problem(current_app, exc)
            if problem is None:
                raise
            raise click.ClickException(problem) from None
        click.echo(f"Seeded {org.domain}: {who_is_who()}")


def who_is_who() -> str:
    """The seeded users and their roles, as the README lists them."""
    names = {code: name for name, code, _ in ROLES}
    return "; ".join(f"{email} ({', '.join(names[c] for c in codes) or 'no role'})"
                     for email, _, _, codes in PEOPLE) + "; password 'password'"
