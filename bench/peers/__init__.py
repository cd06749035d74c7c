"""Peer SCIM servers for the benchmark."""
