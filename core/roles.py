"""The roles of DESIGN.md ("Who may do what"), as Django groups created by a migration.

A user's role is the strongest group they belong to; superusers count as managers for
what they may see. Scoping of rows lives with the data (customers.selectors), not here.
"""

from django.contrib.auth.models import AnonymousUser, User
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    COLLECTOR = "collector", _("Collector")
    AREA_LEADER = "area_leader", _("Area leader")
    MANAGER = "manager", _("Manager")
    SYSTEM = "system", _("System (API)")


# Strongest first: a user in several groups acts with the widest of them.
_ORDER = [Role.MANAGER, Role.SYSTEM, Role.AREA_LEADER, Role.COLLECTOR]


def user_roles(user: User | AnonymousUser) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_gridcollect_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True)) & set(Role.values)
        user._gridcollect_roles = cached
    return cached


def user_role(user: User | AnonymousUser) -> str | None:
    """The strongest role of the user, or None for a user with no role."""
    if user.is_authenticated and user.is_superuser:
        return Role.MANAGER
    roles = user_roles(user)
    for role in _ORDER:
        if role in roles:
            return role
    return None


def is_manager(user: User | AnonymousUser) -> bool:
    return user_role(user) == Role.MANAGER


def is_area_leader(user: User | AnonymousUser) -> bool:
    return Role.AREA_LEADER in user_roles(user)


def sees_everything(user: User | AnonymousUser) -> bool:
    """Managers and system accounts read the whole portfolio."""
    return user_role(user) in (Role.MANAGER, Role.SYSTEM)
