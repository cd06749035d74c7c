"""The Todo app's web pages: sign-in, the org's todos, /me and the admin page.

Everything a page shows or allows is decided from the database on every
request, never from the session: the session cookie holds only the user id.
So whatever the identity provider changes through SCIM (a revoked role, a
deactivated user) takes effect on the user's very next click.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, session, url_for

from . import activity
from .models import ScimActivity, Todo, User, UserEmail, db

bp = Blueprint("web", __name__)

#: What each role code allows (Role.code).  A user's permissions are the union over their roles.
PERMISSIONS: dict[str, set[str]] = {
    "todoer": {"create", "complete_own", "read_own"},
    "auditor": {"read_all"},
    "manager": {"read_all", "delete_any", "admin"},
}


def permissions(user: User | None) -> set[str]:
    return set().union(*(PERMISSIONS.get(role.code, set()) for role in user.roles)) if user else set()


def can(permission: str) -> bool:
    return permission in g.permissions


def csrf_token() -> str:
    """One random token per session, checked on every POST: forms must come from our own pages."""
    if "csrf_token" not in session:
        session["csrf_token"] = secrets.token_urlsafe(32)
    return session["csrf_token"]


@bp.before_request
def load_user() -> Any:
    """Reload the signed-in user on every request, so SCIM changes apply at once."""
    g.user = None
    g.permissions = set()
    user_id = session.get("user_id")
    if user_id is not None:
        user = db.session.get(User, user_id)
        if user is None or not user.active:
            session.clear()
            flash("Your account has been deactivated or removed. You have been signed out.", "error")
            return redirect(url_for("web.sign_in"))
        g.user = user
        g.permissions = permissions(user)
    if request.method == "POST" and request.blueprint == "web":
        sent = request.form.get("csrf_token", "")
        if not secrets.compare_digest(sent, session.get("csrf_token", "")) or not sent:
            abort(400, "The form has expired: reload the page and try again.")
    return None


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(**kwargs: Any) -> Any:
        if g.user is None:
            return redirect(url_for("web.sign_in", next=request.path))
        return view(**kwargs)

    return wrapped


def requires(permission: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Enforce a permission server side: the templates only hide what this forbids."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @login_required
        @wraps(view)
        def wrapped(**kwargs: Any) -> Any:
            if not can(permission):
                abort(403)
            return view(**kwargs)

        return wrapped

    return decorator


def org_todo(todo_id: int) -> Todo:
    """A todo of the signed-in user's org; any other org's todo does not exist for them."""
    todo = db.session.scalar(db.select(Todo).filter_by(id=todo_id, org_id=g.user.org_id))
    if todo is None:
        abort(404)
    return todo


@bp.get("/")
def index() -> Any:
    return redirect(url_for("web.todos" if g.user else "web.sign_in"))


@bp.route("/login", methods=["GET", "POST"])
def sign_in() -> Any:
    if request.method == "GET":
        return render_template("sign_in.html")
    email = request.form.get("email", "").strip().lower()
    password = request.form.get("password", "")
    # The same address may exist in several orgs: the password picks the account.
    candidates = db.session.scalars(db.select(User).where(
        db.or_(db.func.lower(User.user_name) == email,
               User.emails.any(db.func.lower(UserEmail.value) == email))).order_by(User.id))
    user = next((u for u in candidates if u.check_password(password)), None)
    if user is None:
        flash("Wrong email or password.", "error")
        return render_template("sign_in.html", email=email), 401
    if not user.active:
        flash("This account is deactivated.", "error")
        return render_template("sign_in.html", email=email), 403
    session.clear()  # a fresh session on sign-in: nothing carried over from before
    session["user_id"] = user.id
    target = request.args.get("next", "")
    return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("web.todos"))


@bp.post("/logout")
def sign_out() -> Any:
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("web.sign_in"))


@bp.get("/todos")
@login_required
def todos() -> Any:
    if not g.permissions:
        return render_template("no_access.html"), 403
    query = db.select(Todo).filter_by(org_id=g.user.org_id).order_by(Todo.completed, Todo.id)
    if not can("read_all"):
        query = query.filter_by(owner_id=g.user.id)
    return render_template("todos.html", todos=db.session.scalars(query).all())


@bp.post("/todos")
@requires("create")
def create_todo() -> Any:
    title = request.form.get("title", "").strip()[:500]
    if not title:
        flash("A todo needs a title.", "error")
    else:
        db.session.add(Todo(org_id=g.user.org_id, owner_id=g.user.id, title=title))
        db.session.commit()
    return redirect(url_for("web.todos"))


@bp.post("/todos/<int:todo_id>/complete")
@requires("complete_own")
def complete_todo(todo_id: int) -> Any:
    todo = org_todo(todo_id)
    if todo.owner_id != g.user.id:
        abort(403)
    todo.completed = True
    db.session.commit()
    return redirect(url_for("web.todos"))


@bp.post("/todos/<int:todo_id>/delete")
@requires("delete_any")
def delete_todo(todo_id: int) -> Any:
    db.session.delete(org_todo(todo_id))
    db.session.commit()
    flash("Todo deleted.", "info")
    return redirect(url_for("web.todos"))


@bp.get("/me")
@login_required
def me() -> Any:
    return render_template("me.html", user=g.user)


@bp.get("/admin")
@requires("admin")
def admin() -> Any:
    users = db.session.scalars(db.select(User).filter_by(org_id=g.user.org_id).order_by(User.user_name)).all()
    recent = db.session.scalars(db.select(ScimActivity).filter_by(org_id=g.user.org_id)
                                .order_by(ScimActivity.id.desc()).limit(50)).all()
    return render_template("admin.html", users=users, activity=recent)


def register(app: Flask) -> None:
    activity.register(app)  # first, so its timer also covers the hooks registered after it
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"  # browsers then send no cookie with cross-site POSTs
    app.jinja_env.globals.update(csrf_token=csrf_token, can=can)
    app.register_blueprint(bp)
