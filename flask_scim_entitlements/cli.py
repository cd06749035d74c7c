"""``flask scim``: issue, list and revoke the tokens identity providers authenticate with;
migrate the package's own tables."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from .extension import current_scim


@click.group("scim", help="Manage SCIM provisioning credentials.")
def scim_cli() -> None:
    pass


@scim_cli.command("create-token")
@click.option("--tenant", "tenant_key", required=True, help="The tenant (organisation) the token belongs to.")
@click.option("--name", default="", help="A label, e.g. 'Okta production'.")
@click.option("--create", is_flag=True, help="Create the tenant if the tenant_loader does not know it.")
@with_appcontext
def create_token(tenant_key: str, name: str, create: bool) -> None:
    """Print a new token for TENANT; its value is the last line of output."""
    if not create and current_scim.resolve_tenant(tenant_key, create=False) is None:
        # A typo must not silently create a tenant (and a token for it).
        session = current_scim.db.session
        known = sorted({row.tenant_key for row in current_scim.tokens.list(session.connection(), None)})
        session.rollback()
        hint = f" Tenants with tokens: {', '.join(known)}." if known else ""
        raise click.ClickException(f"unknown tenant {tenant_key!r}.{hint} Pass --create to create it.")
    try:
        token_id, token = current_scim.issue_token(tenant_key, name)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created token {token_id} for tenant {tenant_key}. It is shown once; store it now.")
    click.echo(token)


@scim_cli.command("revoke-token")
@click.argument("token_or_id")
@with_appcontext
def revoke_token(token_or_id: str) -> None:
    """Revoke a token, given its id (see list-tokens) or its value."""
    if token_or_id.isdigit():
        revoked = current_scim.revoke_token(token_id=int(token_or_id))
    else:
        revoked = current_scim.revoke_token(token=token_or_id)
    if not revoked:
        raise click.ClickException("no such active token")
    click.echo("Revoked.")


@scim_cli.command("list-tokens")
@click.option("--tenant", "tenant_key", default=None)
@with_appcontext
def list_tokens(tenant_key: str | None) -> None:
    """List tokens (never their values)."""
    state = current_scim
    for row in state.tokens.list(state.db.session.connection(), tenant_key):
        status = "revoked" if row.revoked_at else "active"
        click.echo(f"{row.id}\t{row.tenant_key}\t{row.hint}…\t{status}\t{row.created_at:%Y-%m-%d}\t{row.name}")


@scim_cli.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def upgrade(revision: str) -> None:
    """Migrate the package's own tables (``flask db upgrade`` does it too, with the env.py hook)."""
    from . import migrations

    with current_scim.db.engine.begin() as connection:
        migrations.upgrade(connection, revision)
        click.echo(f"The package's tables are at revision {migrations.current(connection)}.")
