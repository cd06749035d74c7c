"""Provisioning events a host subscribes to (blinker, as Flask's own signals).

Every signal is sent with the Flask app as sender, only after the request's
transaction has committed, so a subscriber never acts on a change that was
rolled back.  Keyword arguments: ``tenant`` (the caller's tenant key), ``id``
(the SCIM id of the resource) and, depending on the signal, ``resource`` (the
SCIM document), ``attributes`` (names of the changed attributes), ``added`` /
``removed`` (ids, for memberships) and ``granted`` / ``revoked`` (``{type: [ids]}``
for roles and entitlements, the type being ``"roles"`` or an entitlement
type's name).

A subscriber that raises does not change the answer to the request: the
change is committed already, and an identity provider that saw an error would
retry a request that now changes nothing (and sends no signal).  The exception
is logged on the ``flask_scim_entitlements.signals`` logger with the signal, the
tenant and the resource id, and the other subscribers still run.

Example: sign a deactivated user out at once::

    from flask_scim_entitlements import signals

    @signals.user_deactivated.connect_via(app)
    def sign_out(sender, tenant, id, **extra):
        Session.query.filter_by(user_id=int(id)).delete()
"""

from __future__ import annotations

import logging
from typing import Any

from blinker import NamedSignal, Namespace

logger = logging.getLogger(__name__)

_signals = Namespace()

user_created = _signals.signal("scim-user-created")
user_updated = _signals.signal("scim-user-updated")
user_deactivated = _signals.signal("scim-user-deactivated")
user_reactivated = _signals.signal("scim-user-reactivated")
user_deleted = _signals.signal("scim-user-deleted")
user_grants_changed = _signals.signal("scim-user-grants-changed")
#: With SCIM_UNKNOWN_GRANTS="drop": grants a request named that exist no longer (``dropped={"roles": [ids]}``).
user_grants_dropped = _signals.signal("scim-user-grants-dropped")
group_created = _signals.signal("scim-group-created")
group_updated = _signals.signal("scim-group-updated")
group_deleted = _signals.signal("scim-group-deleted")
group_members_changed = _signals.signal("scim-group-members-changed")
resource_created = _signals.signal("scim-resource-created")
resource_updated = _signals.signal("scim-resource-updated")
resource_deleted = _signals.signal("scim-resource-deleted")



def send(signal: NamedSignal, sender: Any, **kwargs: Any) -> None:
    """Send ``signal`` to each subscriber in turn; one that raises is logged, and the others still run."""
    for receiver in signal.receivers_for(sender):
        try:
            receiver(sender, **kwargs)
        except Exception:  # noqa: BLE001 - a subscriber's failure is logged, never the request's answer
            logger.exception("subscriber %r of %s failed (tenant %r, id %r)", receiver, signal.name,
                             kwargs.get("tenant"), kwargs.get("id"))


__all__ = [
    "group_created",
    "group_deleted",
    "group_members_changed",
    "group_updated",
    "resource_created",
    "resource_deleted",
    "resource_updated",
    "send",
    "user_created",
    "user_deactivated",
    "user_deleted",
    "user_grants_changed",
    "user_grants_dropped",
    "user_reactivated",
    "user_updated",
]
