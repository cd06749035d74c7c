"""RFC 7643 §4 core schemas (User, Group, Enterprise User) and Okta's Role and
Entitlement schemas (Okta "SCIM with entitlements" guide, interop.md §1.3).

The characteristics below follow RFC 7643 §8.7.1 (the schema representation)
attribute by attribute.  Hosts map a subset of them; what a host does not map
is neither advertised nor returned (see ``mapping.py``).
"""

from __future__ import annotations

from marshmallow import fields

from . import definitions as d
from .base import Reference, ScimSchema, attr, definition_of

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
OKTA_ROLE_URN = "urn:okta:scim:schemas:core:1.0:Role"
OKTA_ENTITLEMENT_URN = "urn:okta:scim:schemas:core:1.0:Entitlement"

RO, RW, IMM, WO = d.READ_ONLY, d.READ_WRITE, d.IMMUTABLE, d.WRITE_ONLY


class NameSchema(ScimSchema):
    formatted = attr(fields.String, description="The full name, formatted for display.")
    familyName = attr(fields.String, description="The family name (last name).")
    givenName = attr(fields.String, description="The given name (first name).")
    middleName = attr(fields.String, description="The middle name(s).")
    honorificPrefix = attr(fields.String, description="Honorific prefix, e.g. 'Ms.'.")
    honorificSuffix = attr(fields.String, description="Honorific suffix, e.g. 'III'.")


def _multi_value_schema(name: str, *, types: tuple[str, ...], value_type: type[fields.Field] = fields.String,
                        value_case_exact: bool = False) -> type[ScimSchema]:
    """The ``value``/``display``/``type``/``primary`` shape of RFC 7643 §2.4 attributes."""
    return type(
        name,
        (ScimSchema,),
        {
            "value": attr(value_type, case_exact=value_case_exact, description="The attribute's value."),
            "display": attr(fields.String, description="A human-readable name, primarily for display."),
            "type": attr(fields.String, canonical_values=types,
                         description="A label indicating the attribute's function."),
            "primary": attr(fields.Boolean, description="Whether this is the preferred value."),
        },
    )


EmailSchema = _multi_value_schema("EmailSchema", types=("work", "home", "other"))
PhoneNumberSchema = _multi_value_schema("PhoneNumberSchema", types=("work", "home", "mobile", "fax", "pager", "other"))
ImSchema = _multi_value_schema("ImSchema", types=("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"))
PhotoSchema = _multi_value_schema("PhotoSchema", types=("photo", "thumbnail"), value_type=Reference,
                                  value_case_exact=True)


class AddressSchema(ScimSchema):
    formatted = attr(fields.String, description="The full mailing address.")
    streetAddress = attr(fields.String)
    locality = attr(fields.String)
    region = attr(fields.String)
    postalCode = attr(fields.String)
    country = attr(fields.String)
    type = attr(fields.String, canonical_values=("work", "home", "other"))
    primary = attr(fields.Boolean)


class UserGroupSchema(ScimSchema):
    """``groups`` on a User: read-only, computed from Group memberships (RFC 7643 §4.1.2)."""

    value = attr(fields.String, mutability=RO, description="The identifier of the User's group.")
    ref = attr(Reference, data_key="$ref", attribute="$ref", case_exact=True, mutability=RO, reference_types=("Group",))
    display = attr(fields.String, mutability=RO)
    type = attr(fields.String, mutability=RO, canonical_values=("direct", "indirect"))


class UserRoleSchema(ScimSchema):
    """``roles`` on a User: ``value`` is the ``id`` of a ``/Roles`` resource (interop.md §1.6)."""

    value = attr(fields.String, case_exact=True, description="The id of the Role.")
    # Filled from the Role's displayName (interop.md §1.6: Okta reads value and display on GET and import).
    display = attr(fields.String, mutability=RO, description="The Role's displayName.")
    type = attr(fields.String)
    primary = attr(fields.Boolean)


class UserEntitlementSchema(ScimSchema):
    """``entitlements`` on a User: ``type`` is the entitlement ResourceType's ``name``."""

    value = attr(fields.String, case_exact=True, description="The id of the entitlement resource.")
    display = attr(fields.String, mutability=RO, description="The entitlement's displayName.")
    type = attr(fields.String, description="The name of the entitlement's ResourceType, e.g. 'License'.")
    primary = attr(fields.Boolean)


class X509Schema(ScimSchema):
    value = attr(fields.String, scim_type=d.BINARY, case_exact=True)
    display = attr(fields.String)
    type = attr(fields.String)
    primary = attr(fields.Boolean)


class UserSchema(ScimSchema):
    userName = attr(
        fields.String, required=True, uniqueness="server",
        description="Unique identifier for the User, used to sign in; compared case-insensitively.",
    )
    name = attr(fields.Nested(NameSchema), description="The components of the user's real name.")
    displayName = attr(fields.String, description="The name of the User, suitable for display.")
    nickName = attr(fields.String)
    profileUrl = attr(Reference, reference_types=("external",))
    title = attr(fields.String)
    userType = attr(fields.String)
    preferredLanguage = attr(fields.String)
    locale = attr(fields.String)
    timezone = attr(fields.String)
    active = attr(fields.Boolean, description="The User's administrative status.")
    password = attr(fields.String, mutability=WO, returned=d.NEVER,
                    description="The User's cleartext password; never returned.")
    emails = attr(fields.Nested(EmailSchema), multi_valued=True, description="Email addresses for the user.")
    phoneNumbers = attr(fields.Nested(PhoneNumberSchema), multi_valued=True)
    ims = attr(fields.Nested(ImSchema), multi_valued=True)
    photos = attr(fields.Nested(PhotoSchema), multi_valued=True)
    addresses = attr(fields.Nested(AddressSchema), multi_valued=True)
    groups = attr(fields.Nested(UserGroupSchema), multi_valued=True, mutability=RO,
                  description="The groups the user belongs to; managed through /Groups.")
    entitlements = attr(fields.Nested(UserEntitlementSchema), multi_valued=True,
                        description="Entitlements granted to the user (values from the entitlement endpoints).")
    roles = attr(fields.Nested(UserRoleSchema), multi_valued=True,
                 description="Roles granted to the user (values from /Roles).")
    x509Certificates = attr(fields.Nested(X509Schema), multi_valued=True)


class ManagerSchema(ScimSchema):
    value = attr(fields.String, case_exact=True, description="The id of the manager's User.")
    ref = attr(Reference, data_key="$ref", attribute="$ref", case_exact=True, reference_types=("User",))
    displayName = attr(fields.String, mutability=RO)


class EnterpriseUserSchema(ScimSchema):
    employeeNumber = attr(fields.String)
    costCenter = attr(fields.String)
    organization = attr(fields.String)
    division = attr(fields.String)
    department = attr(fields.String)
    manager = attr(fields.Nested(ManagerSchema))


class MemberSchema(ScimSchema):
    value = attr(fields.String, case_exact=True, mutability=IMM, description="The id of the member.")
    # Members are users: the store does not nest groups, so "Group" is neither a type nor a $ref target.
    ref = attr(Reference, data_key="$ref", attribute="$ref", case_exact=True, mutability=IMM,
               reference_types=("User",))
    # Computed from the member; returned only on request: large groups are read without joining users.
    display = attr(fields.String, mutability=RO, returned=d.REQUEST, description="The member's display name.")
    type = attr(fields.String, mutability=IMM, canonical_values=("User",))


class GroupSchema(ScimSchema):
    # RFC 7643 §8.7.1 says uniqueness "none"; Entra requires unique group names and Okta's Group Push
    # expects a 409 for a duplicate (interop.md §1.5, Entra): the store enforces it, /Schemas says so.
    displayName = attr(fields.String, required=True, uniqueness="server",
                       description="A human-readable name for the Group, unique (case-insensitively).")
    members = attr(fields.Nested(MemberSchema), multi_valued=True, description="A list of members of the Group.")


class OktaRoleSchema(ScimSchema):
    """``urn:okta:scim:schemas:core:1.0:Role``: id, displayName, description (interop.md §1.3)."""

    displayName = attr(fields.String, required=True, description="The Role's name, shown in the Okta Admin Console.")
    description = attr(fields.String, description="Shown on Okta's Governance tab; at most 1000 characters.")


class OktaEntitlementSchema(ScimSchema):
    """``urn:okta:scim:schemas:core:1.0:Entitlement``: ``type`` is the ResourceType name."""

    displayName = attr(fields.String, required=True, description="The entitlement's name.")
    type = attr(fields.String, required=True, mutability=RO, description="The name of the entitlement's ResourceType.")
    description = attr(fields.String, description="Shown on Okta's Governance tab; at most 1000 characters.")


USER = definition_of(UserSchema, urn=USER_URN, name="User", description="User Account")
GROUP = definition_of(GroupSchema, urn=GROUP_URN, name="Group", description="Group")
ENTERPRISE_USER = definition_of(EnterpriseUserSchema, urn=ENTERPRISE_USER_URN, name="EnterpriseUser",
                                description="Enterprise User")
OKTA_ROLE = definition_of(OktaRoleSchema, urn=OKTA_ROLE_URN, name="Role", description="Role")
OKTA_ENTITLEMENT = definition_of(OktaEntitlementSchema, urn=OKTA_ENTITLEMENT_URN, name="Entitlement",
                                 description="Entitlement")
