"""Settings of the minimal django-scim2 project, on PostgreSQL as its users run it.

Environment: BENCH_DJANGO_PG_DB (database name, default scim_bench_django), BENCH_TOKEN.
"""

import os

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_scim",
    "bench.peers.django_project.scimpeer",
]
MIDDLEWARE = [
    "bench.peers.django_project.scimpeer.middleware.CountStatementsMiddleware",
    "bench.peers.django_project.scimpeer.middleware.BearerTokenMiddleware",
    "django_scim.middleware.SCIMAuthCheckMiddleware",
]
ROOT_URLCONF = "bench.peers.django_project.urls"
# Persistent connections (CONN_MAX_AGE), as a Django deployment that cares about latency sets them:
# the extension keeps a pool too.
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql",
                         "NAME": os.environ.get("BENCH_DJANGO_PG_DB", "scim_bench_django"),
                         "HOST": "127.0.0.1", "PORT": 5432, "USER": "postgres", "CONN_MAX_AGE": 60}}
AUTH_USER_MODEL = "scimpeer.User"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
SCIM_SERVICE_PROVIDER = {
    "NETLOC": "127.0.0.1",
    "AUTHENTICATION_SCHEMES": [{"type": "oauthbearertoken", "name": "OAuth Bearer Token",
                                "description": "Bearer token"}],
    "GROUP_MODEL": "bench.peers.django_project.scimpeer.models.Group",
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
