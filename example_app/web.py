"""The Todo app's web pages (placeholder until the full app lands)."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    @app.get("/")
    def index() -> str:
        return "Todo app: SCIM at /scim/v2"
