"""Paging and sorting for the htmx list pages."""

from django.core.paginator import Paginator

PAGE_SIZES = (25, 50, 100)


def paginate(request, queryset, default_size: int = 25):
    try:
        size = int(request.GET.get("page_size", default_size))
    except ValueError:
        size = default_size
    if size not in PAGE_SIZES:
        size = default_size
    paginator = Paginator(queryset, size)
    return paginator.get_page(request.GET.get("page"))


def apply_sort(request, queryset, allowed: dict[str, str], default: str):
    """Sort by a whitelisted key (`?sort=name` or `?sort=-name`); unknown keys fall back to the default."""
    key = request.GET.get("sort", default)
    descending = key.startswith("-")
    field = allowed.get(key.lstrip("-"))
    if field is None:
        key, descending, field = default, default.startswith("-"), allowed[default.lstrip("-")]
    return queryset.order_by(("-" if descending else "") + field, "pk"), key


def filter_data(query):
    """The query string without empty values, for binding a FilterSet: a form's blank selects
    ("All") mean no filter, not an invalid choice."""
    data = query.copy()
    for key in list(data.keys()):
        values = [v for v in data.getlist(key) if v != ""]
        if values:
            data.setlist(key, values)
        else:
            del data[key]
    return data or None
