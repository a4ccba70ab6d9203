from django.conf import settings
from django.urls import reverse

from .roles import Role, user_role


def _entry(url_name, label, allowed, role, current):
    if allowed is not None and role not in allowed:
        return None
    return {"url": reverse(url_name), "label": label, "active": current == url_name}


def roles(request):
    role = user_role(request.user) if hasattr(request, "user") else None
    current = getattr(getattr(request, "resolver_match", None), "view_name", "") or ""
    navigation = []
    if role:
        for item in settings.NAVIGATION:
            if len(item) == 2:  # a dropdown: (label, entries)
                label, entries = item
                children = [e for e in (_entry(*entry, role, current) for entry in entries) if e]
                if len(children) == 1:
                    navigation.append(children[0])
                elif children:
                    active = any(child["active"] for child in children)
                    navigation.append({"label": label, "children": children, "active": active})
            elif entry := _entry(*item, role, current):
                navigation.append(entry)
    return {"user_role": role, "Role": Role, "navigation": navigation}
