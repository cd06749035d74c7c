import hmac
import os

from django.contrib.auth.models import AnonymousUser


class _Client:
    is_authenticated = True
    is_anonymous = False


class BearerTokenMiddleware:
    """Authenticate the SCIM client by a static bearer token (django-scim2 leaves authentication to the host)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.expected = ("Bearer " + os.environ.get("BENCH_TOKEN", "")).encode()

    def __call__(self, request):
        sent = request.META.get("HTTP_AUTHORIZATION", "").encode()
        request.user = _Client() if hmac.compare_digest(sent, self.expected) else AnonymousUser()
        return self.get_response(request)


class CountStatementsMiddleware:
    """``X-SQL-Statements``: statements Django sent for the request (its BEGIN/COMMIT are not visible here)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.db import connection

        count = [0]

        def wrapper(execute, sql, params, many, context):
            count[0] += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(wrapper):
            response = self.get_response(request)
        response["X-SQL-Statements"] = str(count[0])
        return response
