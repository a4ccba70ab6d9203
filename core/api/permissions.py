from rest_framework.permissions import SAFE_METHODS, BasePermission

from core.permissions import can_edit_archive, can_log_contact_work
from core.roles import user_role


class HasRole(BasePermission):
    """Any GridCollect role may read (its rows are scoped elsewhere); a user with no role may not."""

    message = "Your account has no GridCollect role."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and user_role(request.user))


class ArchiveWrite(HasRole):
    """Reads for every role; writes to the archive for area leaders and managers."""

    message = "Only area leaders and managers may change the customer archive."

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        return request.method in SAFE_METHODS or can_edit_archive(request.user)


class ContactWorkWrite(HasRole):
    """Contacts and service visits: writes for every staff role working the customer."""

    message = "Only collections staff may record contacts and visits."

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        return request.method in SAFE_METHODS or can_log_contact_work(request.user)
