"""``flask scim``: issue, list and revoke the tokens identity providers authenticate with."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


def _state():  # type: ignore[no-untyped-def]
    return current_app.extensions["scim_entitlements"]


@click.group("scim", help="Manage SCIM provisioning credentials.")
def scim_cli() -> None:
    pass


@scim_cli.command("create-token")
@click.option("--tenant", "tenant_key", required=True, help="The tenant (organisation) the token belongs to.")
@click.option("--name", default="", help="A label, e.g. 'Okta production'.")
@with_appcontext
def create_token(tenant_key: str, name: str) -> None:
    """Print a new token for TENANT; its value is the last line of output."""
    state = _state()
    tenant = state.resolve_tenant(tenant_key, create=True)
    if tenant is None:
        raise click.ClickException(f"unknown tenant {tenant_key!r}")
    session = state.db.session
    token_id, token = state.tokens.issue(session.connection(), tenant, tenant_key, name)
    session.commit()
    click.echo(f"Created token {token_id} for tenant {tenant_key}. It is shown once; store it now.")
    click.echo(token)


@scim_cli.command("revoke-token")
@click.argument("token_or_id")
@with_appcontext
def revoke_token(token_or_id: str) -> None:
    """Revoke a token, given its id (see list-tokens) or its value."""
    state = _state()
    session = state.db.session
    if token_or_id.isdigit():
        count = state.tokens.revoke(session.connection(), token_id=int(token_or_id))
    else:
        count = state.tokens.revoke(session.connection(), token=token_or_id)
    session.commit()
    if not count:
        raise click.ClickException("no such active token")
    click.echo("Revoked.")


@scim_cli.command("list-tokens")
@click.option("--tenant", "tenant_key", default=None)
@with_appcontext
def list_tokens(tenant_key: str | None) -> None:
    """List tokens (never their values)."""
    state = _state()
    for row in state.tokens.list(state.db.session.connection(), tenant_key):
        status = "revoked" if row.revoked_at else "active"
        click.echo(f"{row.id}\t{row.tenant_key}\t{row.hint}…\t{status}\t{row.created_at:%Y-%m-%d}\t{row.name}")
