"""Thin Celery tasks of the dashboards."""

import datetime as dt

from celery import shared_task

from .summary import summary_rebuild, summary_rebuild_history, summary_refresh


@shared_task(name="dashboards.tasks.summary_rebuild_task")
def summary_rebuild_task(date: str | None = None) -> int:
    """Nightly: today's summary from scratch, and any month-end the 13-month trend lacks."""
    day = dt.date.fromisoformat(date) if date else None
    summary_rebuild_history(as_of=day)
    return summary_rebuild(as_of=day)


@shared_task(name="dashboards.tasks.summary_refresh_task")
def summary_refresh_task() -> int:
    """Every few minutes: recompute the customers whose figures changed since the last run."""
    return summary_refresh()
