"""Thin Celery tasks: load ids, call one service. Each is safe to run twice."""

import datetime as dt

from celery import shared_task
from django.utils import timezone

from .services.bills import billing_run_execute, billing_run_start
from .services.daily import daily_stats_run
from .services.forecasts import forecasts_run
from .services.instalments import instalment_issue_due
from .services.penalties import penalties_accrue


@shared_task(name="billing.tasks.billing_run_task", acks_late=True)
def billing_run_task(run_id: int) -> int:
    """Routed to the `batch` queue. A re-delivered message finds the run claimed or done."""
    return billing_run_execute(run_id=run_id).bills_created


@shared_task(name="billing.tasks.batch_accrue_penalties")
def accrue_penalties_task(date: str | None = None) -> int:
    day = dt.date.fromisoformat(date) if date else timezone.localdate() - dt.timedelta(days=1)
    return penalties_accrue(through=day)


@shared_task(name="billing.tasks.batch_monthly_billing")
def monthly_billing_task(date: str | None = None) -> int:
    """On the 1st, bill the month that just ended: every reading day of it (1–28 and month
    end) has passed by then. Starting the run twice finds the same run (one per period)."""
    today = dt.date.fromisoformat(date) if date else timezone.localdate()
    last_month = today.replace(day=1) - dt.timedelta(days=1)
    run = billing_run_start(period=f"{last_month.year}-{last_month.month:02d}", issue_date=today)
    return billing_run_execute(run_id=run.pk).bills_created


@shared_task(name="billing.tasks.batch_daily_stats")
def daily_stats_task(date: str | None = None) -> int:
    """Yesterday's statistics, then forecasts and exposure (after the night's readings)."""
    day = dt.date.fromisoformat(date) if date else timezone.localdate() - dt.timedelta(days=1)
    written = daily_stats_run(day=day)
    forecasts_run(day=day)
    return written


@shared_task(name="billing.tasks.batch_instalments_issue")
def instalments_issue_task(date: str | None = None) -> int:
    """Issue the instalments whose issue date has come (分次结算, DESIGN.md rule 6), each
    re-estimated from the latest forecast. A second run for the same day issues nothing."""
    day = dt.date.fromisoformat(date) if date else timezone.localdate()
    return len(instalment_issue_due(day=day).created)


# Remote prepaid control (batch_prepaid_run, control_send_due) lives in its own module;
# importing it here registers its tasks with Celery's autodiscovery of billing.tasks.
from .tasks_prepaid import batch_prepaid_run, control_send_due_task  # noqa: E402, F401
