from decimal import Decimal

from django import template

from core.formatting import money

register = template.Library()


@register.simple_tag(takes_context=True)
def sort_link(context, key: str) -> str:
    """Query string that sorts by `key`, flipping direction when it is the current sort."""
    request = context["request"]
    current = context.get("sort", "")
    params = request.GET.copy()
    params["sort"] = f"-{key}" if current == key else key
    params.pop("page", None)
    return "?" + params.urlencode()


@register.simple_tag(takes_context=True)
def sort_arrow(context, key: str) -> str:
    current = context.get("sort", "")
    if current == key:
        return "▲"
    if current == f"-{key}":
        return "▼"
    return ""


@register.simple_tag(takes_context=True)
def page_link(context, number: int) -> str:
    params = context["request"].GET.copy()
    params["page"] = number
    return "?" + params.urlencode()


@register.filter
def person(user) -> str:
    """A user's full name, else the username, else a dash (for unassigned roles)."""
    if user is None:
        return "—"
    return user.get_full_name() or user.username


@register.filter(name="money")
def money_filter(value) -> str:
    return money(value)


@register.filter
def kwh(value) -> str:
    if value is None:
        return "—"
    return f"{Decimal(value):,.0f}"


@register.filter
def permille(value) -> str:
    """A daily rate as per mille (0.002 → 2‰)."""
    if value is None:
        return "—"
    return f"{(Decimal(value) * 1000).normalize():f}‰"


@register.filter
def percent(value) -> str:
    """A fraction as a percentage with two decimals (−0.0075 → −0.75%)."""
    if value is None:
        return "—"
    return f"{Decimal(value) * 100:.2f}%"


@register.filter
def chosen(value, current) -> bool:
    """Whether a choice is the filter field's current value, or among its values (a list for a
    multiple choice): the list pages' selects show one value either way."""
    if current in (None, ""):
        return False
    if isinstance(current, list | tuple):
        return str(value) in {str(v) for v in current}
    return str(value) == str(current)
