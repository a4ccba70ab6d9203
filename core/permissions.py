"""What a role may do (DESIGN.md "Who may do what"). Which rows it may see is decided by
customers.selectors.customers_visible_to."""

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied

from .roles import Role, is_manager, user_roles


def can_edit_archive(user: User | AnonymousUser) -> bool:
    """Managers and area leaders keep the archive; collectors add contacts and visits only."""
    return user.is_authenticated and (user.is_superuser or is_manager(user) or Role.AREA_LEADER in user_roles(user))


def can_log_contact_work(user: User | AnonymousUser) -> bool:
    """Contacts and service-log entries: every staff role working the customer."""
    roles = user_roles(user)
    return user.is_authenticated and (
        user.is_superuser or bool(roles & {Role.COLLECTOR, Role.AREA_LEADER, Role.MANAGER})
    )


def can_lead(user: User | AnonymousUser) -> bool:
    """Area leaders and managers: approvals, reassignments, targets and agreements."""
    return user.is_authenticated and (user.is_superuser or bool(user_roles(user) & {Role.AREA_LEADER, Role.MANAGER}))


def require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied
