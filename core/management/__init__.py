"""Helpers shared by the management commands of every app (each job takes --date)."""

import datetime as dt

from django.core.management.base import CommandError
from django.utils import timezone


def parse_date_option(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{name} must be a date written YYYY-MM-DD, not {value!r}") from None


def yesterday() -> dt.date:
    return timezone.localdate() - dt.timedelta(days=1)
