from .roles import Role, user_role


def roles(request):
    role = user_role(request.user) if hasattr(request, "user") else None
    return {"user_role": role, "Role": Role}
