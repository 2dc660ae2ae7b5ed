"""Identity's errors."""

from __future__ import annotations

from nexus.core.errors import Conflict, NexusError, NotFound, PermissionDenied, Unauthenticated


class InvalidCredentials(Unauthenticated):
    code, title = "invalid_credentials", "The email or password is wrong"


class InvalidToken(Unauthenticated):
    code, title = "invalid_token", "The token is invalid or has expired"


class RefreshTokenReused(Unauthenticated):
    code, title = "refresh_token_reused", "This refresh token was already used; signed out"


class MfaRequired(Unauthenticated):
    code, title = "mfa_required", "Enter the code from your authenticator app"


class InvalidMfaCode(Unauthenticated):
    code, title = "invalid_mfa_code", "The authenticator code is wrong"


class TenantRequired(NexusError):
    status, code, title = 422, "tenant_required", "Say which business to sign in to"


class TenantNotFound(NotFound):
    code, title = "tenant_not_found", "No such business"


class UserNotFound(NotFound):
    code, title = "user_not_found", "No such user in this business"


class RoleNotFound(NotFound):
    code, title = "role_not_found", "No such role"


class ApiKeyNotFound(NotFound):
    code, title = "api_key_not_found", "No such API key"


class BranchNotFound(NotFound):
    code, title = "branch_not_found", "No such branch"


class SlugTaken(Conflict):
    code, title = "slug_taken", "A business with this slug already exists"


class AlreadyMember(Conflict):
    code, title = "already_member", "This person is already a member of the business"


class RoleInUse(Conflict):
    code, title = "role_in_use", "Members still have this role"


class LastOwner(Conflict):
    code, title = "last_owner", "The business must keep at least one active owner"


class OwnerRequired(PermissionDenied):
    code, title = "owner_required", "Only an owner may make or unmake an owner"


class CannotDeactivateSelf(Conflict):
    code, title = "cannot_deactivate_self", "You cannot deactivate yourself"


class InvalidMemberStatus(Conflict):
    code, title = "invalid_member_status", "The member's status does not allow this"


class RoleKeyTaken(Conflict):
    code, title = "role_key_taken", "A role with this key already exists"


class BuiltinRoleReadOnly(Conflict):
    code, title = "builtin_role_read_only", "Built-in roles cannot be changed or deleted"


class BranchCodeTaken(Conflict):
    code, title = "branch_code_taken", "A branch with this code already exists"


class UserSessionRequired(NexusError):
    status, code, title = (
        422,
        "user_session_required",
        "This needs a user's sign-in, not an API key",
    )


class MfaAlreadyEnabled(Conflict):
    code, title = "mfa_already_enabled", "Two-step sign-in is already on; disable it first"


class MfaNotEnrolled(Conflict):
    code, title = "mfa_not_enrolled", "Start authenticator enrolment first"


class MfaNotEnabled(Conflict):
    code, title = "mfa_not_enabled", "Two-step sign-in is not on"
