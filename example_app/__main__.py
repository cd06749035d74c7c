"""``python -m example_app [--port N]``: migrate, seed, print a token and serve, in one step.

The same as running, by hand::

    flask --app example_app db upgrade
    flask --app example_app seed
    flask --app example_app scim create-token --tenant gridco.example
    flask --app example_app run --port 5000

The port is checked first: a busy port is reported before anything is written or a token is minted.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from typing import Any

from flask_migrate import upgrade
from werkzeug.serving import make_server, select_address_family

from flask_scim_entitlements import current_scim

from . import create_app, database_problem
from .commands import seed_data, who_is_who
from .models import db

TENANT = "gridco.example"


def port_is_free(host: str, port: int) -> bool:
    """Bind the way Werkzeug will (SO_REUSEADDR), and let go: False if another program holds the port."""
    with socket.socket(select_address_family(host, port), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m example_app", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")),
                        help="port to serve on (default: $PORT, else 5000)")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"),
                        help="address to listen on (default: $HOST, else 127.0.0.1)")
    return parser.parse_args(argv)


def prepare(app: Any) -> tuple[str, int]:
    """Migrate, seed and mint a token; returns it with the number of the org's older live tokens."""
    with app.app_context():
        upgrade()
        # Alembic's logging setup (alembic.ini) disables loggers it does not name: the request log is ours.
        for name in ("example_app.requests", "werkzeug"):
            logging.getLogger(name).disabled = False
        org = seed_data()
        older = sum(1 for row in current_scim.tokens.list(db.session.connection(), TENANT) if not row.revoked_at)
        token = current_scim.issue_token(org.domain, "python -m example_app").value
    return token, older


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not port_is_free(args.host, args.port):
        print(f"Port {args.port} on {args.host} is busy (on macOS, the AirPlay Receiver holds 5000). "
              f"Nothing was changed and no token was minted. Run: python -m example_app --port {args.port + 1}"
              f"   (or PORT={args.port + 1} python -m example_app)", file=sys.stderr)
        return 1
    app = create_app()
    try:
        token, older = prepare(app)
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
        problem = database_problem(app, exc)
        if problem is None:
            raise
        print(problem, file=sys.stderr)
        return 1
    server = make_server(args.host, args.port, app, threaded=True)
    base = f"http://{args.host}:{server.server_port}"
    with app.app_context():
        prefix = current_scim.config.url_prefix
    print(f"Web app:       {base}/   Sign in as {who_is_who()}.")
    print(f"SCIM base URL: {base}{prefix}   (behind a tunnel: the tunnel's https URL + {prefix})")
    if older:
        print(f"This org has {older} older live token(s) from earlier runs: list them with "
              f"`flask --app example_app scim list-tokens --tenant {TENANT}`, revoke one with "
              "`flask --app example_app scim revoke-token ID`.")
    print("SCIM token (Okta: API Token field; other clients: Authorization: Bearer <token>):")
    print(token, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
