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
