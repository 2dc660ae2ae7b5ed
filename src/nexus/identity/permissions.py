"""Identity's permissions and the built-in roles every tenant starts with."""

from __future__ import annotations

from nexus.core.registry import Permission

PERMISSIONS = (
    Permission("identity.user.read", "See the team"),
    Permission("identity.user.invite", "Invite people to the business"),
    Permission("identity.user.update", "Change a member's role or name"),
    Permission("identity.user.deactivate", "Deactivate and reactivate members"),
    Permission("identity.role.read", "See roles and their permissions"),
    Permission("identity.role.manage", "Create, change and delete custom roles"),
    Permission("identity.api_key.read", "See API keys"),
    Permission("identity.api_key.manage", "Create and revoke API keys"),
    Permission("identity.audit.read", "Read the audit log"),
    Permission("identity.tenant.read", "See the business profile and branches"),
    Permission("identity.tenant.update", "Change the business profile and branches"),
)

#: Built-in roles: key → (name, description, permission patterns). `*` is every permission of
#: every module, including modules enabled later.
BUILTIN_ROLES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "owner": ("Owner", "Full control of the business", ("*",)),
    "admin": (
        "Administrator",
        "Everything, including team, roles and keys",
        ("*",),
    ),
    "manager": (
        "Manager",
        "Runs the day-to-day business and sees the team",
        ("identity.user.read", "identity.role.read", "identity.tenant.read", "identity.audit.read"),
    ),
    "staff": ("Staff", "Does the daily work", ("identity.user.read", "identity.tenant.read")),
    "viewer": ("Viewer", "Reads, changes nothing", ("identity.tenant.read",)),
}

#: Only owners may remove or demote an owner.
OWNER_ROLE = "owner"
