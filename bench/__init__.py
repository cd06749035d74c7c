"""Benchmarks of the SCIM server against a bare floor app and peer SCIM servers.  Run ``python -m bench``."""
