"""The audit trail of a model kept by django-simple-history, as rows a page can show: when,
who, what kind of change, and each changed field with its old and new value."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import models


@dataclass
class FieldChange:
    label: str
    old: str
    new: str


@dataclass
class HistoryEntry:
    when: dt.datetime
    user: object
    kind: str
    reason: str
    changes: list[FieldChange] = field(default_factory=list)


def _shown(record, model_field: models.Field, value) -> str:
    if value is None or value == "":
        return "—"
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(model_field, models.ForeignKey):
        try:
            return str(getattr(record, model_field.name))
        except Exception:  # noqa: BLE001 - the related row may be gone; show its key instead
            return str(value)
    if isinstance(value, dt.datetime):
        from django.utils import timezone

        return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"
    return str(value)


def history_entries(obj: models.Model, *, limit: int = 50) -> list[HistoryEntry]:
    """Newest first. Each entry lists the fields changed against the version before it."""
    records = list(obj.history.select_related("history_user").order_by("-history_date", "-history_id")[: limit + 1])
    entries = []
    for index, record in enumerate(records[:limit]):
        older = records[index + 1] if index + 1 < len(records) else None
        changes = []
        if older is not None:
            delta = record.diff_against(older)
            for change in delta.changes:
                model_field = record.instance_type._meta.get_field(change.field)
                changes.append(
                    FieldChange(
                        str(model_field.verbose_name),
                        _shown(older, model_field, change.old),
                        _shown(record, model_field, change.new),
                    )
                )
        entries.append(
            HistoryEntry(
                record.history_date,
                record.history_user,
                record.get_history_type_display(),
                record.history_change_reason or "",
                changes,
            )
        )
    return entries
