"""Who may do what in billing (DESIGN.md "Who may do what")."""

from django.contrib.auth.models import AnonymousUser, User

from core.roles import Role, user_role, user_roles


def can_post_readings(user: User | AnonymousUser) -> bool:
    """The metering system (a system account) and managers."""
    return user_role(user) in (Role.MANAGER, Role.SYSTEM)


def can_record_payments(user: User | AnonymousUser) -> bool:
    """Banks and channels (system accounts), managers and area leaders at the counter."""
    return user_role(user) in (Role.MANAGER, Role.SYSTEM) or Role.AREA_LEADER in user_roles(user)


def can_run_billing(user: User | AnonymousUser) -> bool:
    return user_role(user) in (Role.MANAGER, Role.SYSTEM)


def can_reverse_payments(user: User | AnonymousUser) -> bool:
    return user_role(user) in (Role.MANAGER, Role.SYSTEM)


def can_waive_penalties(user: User | AnonymousUser) -> bool:
    return user_role(user) == Role.MANAGER
