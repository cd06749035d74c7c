"""The Todo app's web pages: sign-in, the org's todos, /me and the admin pages.

Everything a page shows or allows is decided from the database on every
request, never from the session (see ``access.py``): the session cookie holds
only the user's random session token (Flask-Login), never a row id.  So
whatever the identity provider changes through SCIM (a revoked role, a group
membership, a deactivated or deleted user) takes effect on the user's very
next click, and a session can never open an account created later.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import SecurityError

from . import access, activity
from .models import ActivityEvent, Group, RequestCount, Role, Todo, User, UserEmail, db

bp = Blueprint("web", __name__)
login_manager = LoginManager()
login_manager.login_view = "web.sign_in"
login_manager.login_message = "Sign in to see this page."
csrf = CSRFProtect()

#: Activity events per page on /admin/activity.
EVENTS_PER_PAGE = 25


@login_manager.user_loader
def load_user_by_session_token(token: str) -> User | None:
    return db.session.scalar(db.select(User).filter_by(session_token=token))


def can(permission: str) -> bool:
    return permission in g.get("permissions", {})


def safe_next(target: str | None) -> str | None:
    """``next`` only ever leads to a path of this site.

    Refused: absolute URLs (``https://evil``), scheme-relative ones (``//evil``), backslashes (which
    browsers read as ``/``), and control characters or spaces (``/%09/evil.example``: browsers drop
    the tab and go to ``//evil.example``).
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if any(ord(c) <= 0x20 or ord(c) == 0x7F or c == "\\" for c in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@bp.before_request
def load_permissions() -> Any:
    """Reload the signed-in user's standing on every request, so SCIM changes apply at once."""
    g.grants, g.permissions = [], {}
    # (Flask-Login's is_authenticated is False for an inactive user: is_anonymous tells them apart.)
    if "_user_id" in session and (current_user.is_anonymous or not current_user.is_active):
        if not current_user.is_anonymous:
            current_user.end_sessions()  # every other session of the deactivated user ends too
            db.session.commit()
        logout_user()
        session.clear()
        flash("Your account has been deactivated or removed. You have been signed out.", "error")
        return redirect(url_for("web.sign_in"))
    if current_user.is_authenticated:
        g.grants = access.grants(current_user)
        g.permissions = access.permissions(g.grants)
    if request.method == "POST":
        csrf.protect()  # Flask-WTF: forms must come from our own pages
    return None


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
    todo = db.session.scalar(db.select(Todo).filter_by(id=todo_id, org_id=current_user.org_id))
    if todo is None:
        abort(404)
    return todo


@bp.get("/")
def index() -> Any:
    return redirect(url_for("web.todos" if current_user.is_authenticated else "web.sign_in"))


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
    if not user.is_active:
        flash("This account is deactivated.", "error")
        return render_template("sign_in.html", email=email), 403
    target = safe_next(request.args.get("next"))
    session.clear()  # a fresh session on sign-in: nothing carried over from before
    login_user(user)
    db.session.commit()  # the session token, if the user had none yet (a row loaded by raw SQL)
    return redirect(target or url_for("web.todos"))


@bp.post("/logout")
def sign_out() -> Any:
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("web.sign_in"))


@bp.get("/todos")
@login_required
def todos() -> Any:
    if not g.permissions:
        return render_template("no_access.html"), 403
    query = db.select(Todo).filter_by(org_id=current_user.org_id).order_by(Todo.completed, Todo.id)
    if not can("read_all"):
        query = query.filter_by(owner_id=current_user.id)
    return render_template("todos.html", todos=db.session.scalars(query).all())


@bp.post("/todos")
@requires("create")
def create_todo() -> Any:
    title = request.form.get("title", "").strip()[:500]
    if not title:
        flash("A todo needs a title.", "error")
    else:
        db.session.add(Todo(org_id=current_user.org_id, owner_id=current_user.id, title=title))
        db.session.commit()
    return redirect(url_for("web.todos"))


@bp.post("/todos/<int:todo_id>/complete")
@requires("complete_own")
def complete_todo(todo_id: int) -> Any:
    todo = org_todo(todo_id)
    if todo.owner_id != current_user.id:
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
    return render_template("me.html", user=current_user, descriptions=access.DESCRIPTIONS)


@bp.get("/admin")
@requires("admin")
def admin() -> Any:
    org_id = current_user.org_id
    users = db.session.scalars(db.select(User).filter_by(org_id=org_id).order_by(User.user_name)).all()
    groups = db.session.scalars(db.select(Group).filter_by(org_id=org_id).order_by(Group.name)).all()
    roles = db.session.scalars(db.select(Role).order_by(Role.id)).all()
    activity.flush_reads()
    recent = db.session.scalars(db.select(ActivityEvent).filter_by(org_id=org_id)
                                .order_by(ActivityEvent.id.desc()).limit(10)).all()
    return render_template("admin.html", users=users, groups=groups, roles=roles, events=recent)


@bp.post("/admin/groups/<int:group_id>/roles")
@requires("admin")
def map_group(group_id: int) -> Any:
    """Map an IdP group to app roles: every member of the group then holds them."""
    group = db.session.scalar(db.select(Group).filter_by(id=group_id, org_id=current_user.org_id))
    if group is None:
        abort(404)
    chosen = {int(v) for v in request.form.getlist("role") if v.isdigit()}
    group.roles = list(db.session.scalars(db.select(Role).where(Role.id.in_(chosen)).order_by(Role.id)))
    db.session.commit()
    names = ", ".join(role.name for role in group.roles) or "no role"
    flash(f"Members of {group.name} now hold: {names}.", "info")
    return redirect(url_for("web.admin") + "#groups")


@bp.get("/admin/activity")
@requires("admin")
def activity_log() -> Any:
    org_id = current_user.org_id
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    activity.flush_reads()
    events = db.session.scalars(db.select(ActivityEvent).filter_by(org_id=org_id)
                                .order_by(ActivityEvent.id.desc())
                                .offset((page - 1) * EVENTS_PER_PAGE).limit(EVENTS_PER_PAGE + 1)).all()
    counts = db.session.scalars(db.select(RequestCount).filter_by(org_id=org_id)
                                .order_by(RequestCount.endpoint, RequestCount.method, RequestCount.status)).all()
    return render_template("activity.html", events=events[:EVENTS_PER_PAGE], page=page,
                           has_next=len(events) > EVENTS_PER_PAGE, counts=counts)


def error_page(error: Any) -> Any:
    """403, 404 and a stale form (400) in the app's own layout, not Werkzeug's bare page."""
    code = getattr(error, "code", 500) or 500
    if isinstance(error, SecurityError):
        # A Host outside TRUSTED_HOSTS: Flask could not route the request, so no page can build a URL.
        return f"{code} Bad Request: {error.description}", code, {"Content-Type": "text/plain; charset=utf-8"}
    if isinstance(error, CSRFError):
        message = "The form has expired: go back, reload the page and try again."
    else:
        message = {403: "You do not have permission to see this page.",
                   404: "There is no such page."}.get(code, getattr(error, "description", ""))
    return render_template("error.html", code=code, message=message), code


def register_error_pages(app: Flask) -> None:
    """Call before ``scim.init_app``: the SCIM prefix then keeps its own 404/405 (SCIM bodies) and
    hands every other path's to :func:`error_page`."""
    for code in (400, 403, 404):
        app.register_error_handler(code, error_page)
    app.register_error_handler(CSRFError, error_page)


def register(app: Flask) -> None:
    activity.register(app)  # first, so its timer also covers the hooks registered after it
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"  # browsers then send no cookie with cross-site POSTs
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked in this blueprint only, not on SCIM
    csrf.init_app(app)
    login_manager.init_app(app)
    app.jinja_env.globals.update(can=can)
    app.register_blueprint(bp)
