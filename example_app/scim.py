"""How the Todo app plugs Flask-SCIM-Entitlements onto its own models."""

from __future__ import annotations

from marshmallow import fields

from flask_scim_entitlements import (
    Attr,
    EntitlementType,
    Extension,
    GroupMapping,
    MultiValued,
    RoleType,
    ScimEntitlements,
    ScimSchema,
    UserMapping,
    attr,
)

from .models import Characteristic, Group, Org, Role, User, UserEmail, db

CHARACTERISTIC_URN = "urn:bestapps:scim:schemas:extension:todoapp:1.0:Characteristic"
TODO_USER_URN = "urn:bestapps:scim:schemas:extension:todoapp:1.0:User"


class TodoUserExtension(ScimSchema):
    """The app's own User extension: Okta discovers ``team`` in /Schemas and can map a profile attribute to it."""

    team = attr(fields.String, description="The team the user works in; shown on the admin page.")


class CharacteristicExtension(ScimSchema):
    """The custom entitlement type's extension schema, published in /Schemas."""

    category = attr(fields.String, description="What kind of trait this is.")


scim = ScimEntitlements(
    db=db,
    users=UserMapping(
        User,
        tenant=User.org_id,
        created=User.created_at,
        last_modified=User.updated_at,
        attributes={
            "userName": User.user_name,
            "externalId": User.external_id,
            "name.givenName": User.first_name,
            "name.familyName": User.last_name,
            "displayName": User.display_name,
            "emails": MultiValued(User.emails, value=UserEmail.value, type=UserEmail.type,
                                  display=UserEmail.display, primary=UserEmail.primary),
            "active": User.active,
            "password": Attr(set=User.set_password),
        },
        extensions=[Extension(urn=TODO_USER_URN, schema=TodoUserExtension, attributes={"team": User.team})],
    ),
    groups=GroupMapping(
        Group,
        tenant=Group.org_id,
        created=Group.created_at,
        last_modified=Group.updated_at,
        attributes={"displayName": Group.name, "externalId": Group.external_id},
        members=Group.members,
    ),
    roles=RoleType(
        Role,
        description="What a user may do in the Todo app",
        attributes={"displayName": Role.name, "description": Role.description},
        holders=User.roles,
    ),
    entitlement_types=[
        EntitlementType(
            Characteristic,
            name="Characteristic",
            endpoint="/Characteristics",
            description="Traits of a user, granted by the identity provider",
            attributes={"displayName": Characteristic.name, "description": Characteristic.description},
            holders=User.characteristics,
            extensions=[Extension(urn=CHARACTERISTIC_URN, schema=CharacteristicExtension,
                                  attributes={"category": Characteristic.category}, required=True,
                                  name="Characteristic", description="Todo app characteristic extension")],
        )
    ],
)


@scim.tenant_loader
def load_org(domain: str, create: bool) -> int | None:
    """``flask scim create-token --tenant gridco.example`` names an org by its domain."""
    org = db.session.scalar(db.select(Org).filter_by(domain=domain))
    if org is None and create:
        org = Org(domain=domain, name=domain)
        db.session.add(org)
        db.session.flush()
    return None if org is None else org.id
