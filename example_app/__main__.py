"""``python -m example_app``: migrate, seed, print a token and serve, in one step.

The same as running, by hand::

    flask --app example_app db upgrade
    flask --app example_app seed
    flask --app example_app scim create-token --tenant gridco.example
    flask --app example_app run
"""

from __future__ import annotations

import os

from flask_migrate import upgrade

from flask_scim_entitlements import current_scim

from . import create_app
from .commands import seed_data


def main() -> None:
    app = create_app()
    port = int(os.environ.get("PORT", "5000"))
    with app.app_context():
        upgrade()
        org = seed_data()
        token = current_scim.issue_token(org.domain, "python -m example_app").value
        prefix = current_scim.config.url_prefix
    print(f"SCIM base URL: http://127.0.0.1:{port}{prefix}")
    print("Sign in at the web app with somnus@gridco.example or trinity@gridco.example / password")
    print("SCIM token (Authorization: Bearer <token>):")
    print(token, flush=True)
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=port)


if __name__ == "__main__":
    main()
