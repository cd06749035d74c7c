"""The Django app holding the SCIM-enabled user and group models."""
