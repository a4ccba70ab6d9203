from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def rate(value) -> str:
    """A percentage from dashboards.selectors.rate (one decimal), or a dash when undefined."""
    if value is None:
        return "—"
    return f"{number_format(value, 1)}%"
