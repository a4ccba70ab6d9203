from django.conf import settings
from django.urls import reverse

from .roles import Role, user_role


def roles(request):
    role = user_role(request.user) if hasattr(request, "user") else None
    namespace = getattr(getattr(request, "resolver_match", None), "view_name", "") or ""
    navigation = []
    if role:
        for url_name, label, allowed in settings.NAVIGATION:
            if allowed is None or role in allowed:
                navigation.append({"url": reverse(url_name), "label": label, "active": namespace == url_name})
    return {"user_role": role, "Role": Role, "navigation": navigation}
