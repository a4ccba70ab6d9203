from django.shortcuts import render

from core.pagination import paginate

from .selectors import worklist_for


def worklist(request):
    """The page a collector opens first: what needs doing today, biggest money first."""
    items = worklist_for(request.user)
    return render(request, "collection/worklist.html", {"page": paginate(request, items, default_size=50)})
