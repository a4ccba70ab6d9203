"""Reads of the archive that depend on who is asking.

`customers_visible_to` is the one place where row scoping is decided (DESIGN.md "Who may do
what"); every page, API view, export and search of every app filters through it.
"""

from typing import NamedTuple

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Exists, OuterRef, Q, QuerySet

from core.roles import Role, is_manager, sees_everything, user_roles

from .models import Announcement, Customer, Notification, Region


def region_subtree_ids(root_ids: list[int]) -> set[int]:
    """Ids of the given regions and all regions below them (the tree is shallow and small)."""
    parents = dict(Region.objects.values_list("id", "parent_id"))
    children: dict[int, list[int]] = {}
    for region_id, parent_id in parents.items():
        children.setdefault(parent_id, []).append(region_id)
    found: set[int] = set()
    stack = list(root_ids)
    while stack:
        region_id = stack.pop()
        if region_id in found:
            continue
        found.add(region_id)
        stack.extend(children.get(region_id, []))
    return found


def regions_led_by(user: User) -> set[int]:
    return region_subtree_ids(list(Region.objects.filter(leader=user).values_list("id", flat=True)))


class Visibility(NamedTuple):
    """Whose customers a user may read: everyone's, or those of some areas (an area leader's
    subtrees) and/or their own as a collector."""

    everything: bool
    regions: frozenset[int]
    collector_id: int | None

    @property
    def key(self) -> str:
        """The same for two users who see the same rows: answers computed for one (the
        dashboards' cached figures) may be served to the other."""
        if self.everything:
            return "all"
        return f"r{','.join(map(str, sorted(self.regions)))}|c{self.collector_id or ''}"


def visibility(user: User | AnonymousUser) -> Visibility | None:
    """The scoping rule (DESIGN.md "Who may do what"); None for a user who sees nothing."""
    if not user.is_authenticated:
        return None
    # Kept on the user object for the request, like its roles: a page asks several times.
    if (seen := getattr(user, "_gridcollect_visibility", False)) is not False:
        return seen
    if user.is_superuser or sees_everything(user):
        seen = Visibility(True, frozenset(), None)
    else:
        roles = user_roles(user)
        regions = frozenset(regions_led_by(user)) if Role.AREA_LEADER in roles else frozenset()
        collector_id = user.pk if Role.COLLECTOR in roles else None
        leads = Role.AREA_LEADER in roles
        seen = Visibility(False, regions, collector_id) if leads or collector_id is not None else None
    user._gridcollect_visibility = seen
    return seen


def visibility_condition(user: User | AnonymousUser) -> Q | None:
    """The scoping rule as a condition on `region` and `collector`: an empty Q for managers and
    system accounts, an area leader's subtree, a collector's own customers; None for nothing.

    Written over the two field names rather than a customer queryset so that a table keyed by
    the same fields (the dashboards' summary, one row per area and collector) is scoped by this
    very rule instead of a copy of it."""
    seen = visibility(user)
    if seen is None:
        return None
    if seen.everything:
        return Q()
    condition = Q(region_id__in=seen.regions) if Role.AREA_LEADER in user_roles(user) else None
    if seen.collector_id is not None:
        mine = Q(collector=seen.collector_id)
        condition = condition | mine if condition is not None else mine
    return condition


def customers_visible_to(user: User | AnonymousUser) -> QuerySet[Customer]:
    """Customers this user may read: managers and system accounts all, an area leader their
    areas', a collector the customers assigned to them, anyone else none."""
    condition = visibility_condition(user)
    if condition is None:
        return Customer.objects.none()
    return Customer.objects.filter(condition)


def regions_visible_to(user: User | AnonymousUser) -> QuerySet[Region]:
    """Regions shown in filters and the API: all for managers, the led subtree for leaders,
    the areas of a collector's customers for collectors."""
    if not user.is_authenticated:
        return Region.objects.none()
    if user.is_superuser or sees_everything(user):
        return Region.objects.all()
    ids: set[int] = set()
    roles = user_roles(user)
    if Role.AREA_LEADER in roles:
        ids |= regions_led_by(user)
    if Role.COLLECTOR in roles:
        ids |= set(Customer.objects.filter(collector=user).values_list("region_id", flat=True).distinct())
    return Region.objects.filter(id__in=ids)


def staff_assignable_by(user: User | AnonymousUser) -> QuerySet[User]:
    """Users who may be named collector or account manager."""
    return User.objects.filter(is_active=True, groups__name__in=[Role.COLLECTOR, Role.AREA_LEADER]).distinct()


def notifications_visible_to(user: User | AnonymousUser) -> QuerySet[Notification]:
    """Outbox rows this user may read: those of the customers they may read; staff messages
    that belong to no customer (escalation e-mails, reports) only for managers."""
    queryset = Notification.objects.all()
    if not user.is_authenticated:
        return queryset.none()
    mine = Q(customer__in=customers_visible_to(user))
    if user.is_superuser or is_manager(user):
        mine |= Q(customer__isnull=True)
    return queryset.filter(mine)


def announcements_visible_to(user: User | AnonymousUser) -> QuerySet[Announcement]:
    """Notices to customers this user may read: every one for managers and system accounts,
    else those they wrote or that reached a customer of theirs."""
    if visibility(user) is None:
        return Announcement.objects.none()
    if visibility(user).everything:
        return Announcement.objects.all()
    mine = Notification.objects.filter(announcement=OuterRef("pk"), customer__in=customers_visible_to(user))
    return Announcement.objects.filter(Q(created_by=user) | Exists(mine))
