"""A minimal Django project serving django-scim2, for the benchmark (run with /tmp/bench-peers)."""
