"""Benchmarks 7 and 8: the daily statistics + forecasts job, and the prepaid deduction and
threshold check, over the whole portfolio on PostgreSQL."""

import datetime as dt
import random
import sys
import time
from decimal import Decimal

from .billing import _period, _prepare
from .common import BenchContext, Figure, median, table

TARGET_DAILY_SECONDS = 30
TARGET_PREPAID_SECONDS = 10
HISTORY_DAYS = 28


def _timed(runs: int, budget: float, reset, work) -> list[float]:
    times: list[float] = []
    budget_end = time.perf_counter() + budget
    for number in range(runs):
        if number and time.perf_counter() > budget_end:
            break
        reset()
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
        print(f"bench:   run {number + 1}: {times[-1]:.1f} s", file=sys.stderr, flush=True)
    return times


def bench_daily_and_prepaid(ctx: BenchContext) -> str:
    from django.db import transaction
    from django.utils import timezone

    from billing.models import ControlCommand, DailyUsage, Forecast, PrepaidAccount, PrepaidEntry
    from billing.services.daily import daily_stats_compute, daily_stats_run
    from billing.services.forecasts import forecasts_run
    from billing.services.prepaid import prepaid_run
    from customers.models import Customer, Notification

    prepared = _prepare(_period(timezone.localdate()), ctx.seed)
    day = prepared["last"]
    customers = prepared["customers"]

    started = time.perf_counter()
    daily_stats_compute(first_day=day - dt.timedelta(days=HISTORY_DAYS), last_day=day - dt.timedelta(days=1))
    backfill = time.perf_counter() - started

    def reset_daily():
        DailyUsage.objects.filter(day=day).delete()
        Forecast.objects.filter(day=day).delete()

    daily_parts: dict[str, list[float]] = {"statistics": [], "forecasts": []}

    def daily_job():
        t0 = time.perf_counter()
        daily_stats_run(day=day)
        t1 = time.perf_counter()
        forecasts_run(day=day)
        daily_parts["statistics"].append(t1 - t0)
        daily_parts["forecasts"].append(time.perf_counter() - t1)

    daily_times = _timed(ctx.runs, ctx.phase_seconds, reset_daily, daily_job)
    rows = DailyUsage.objects.filter(day=day).count()

    # Every customer prepaid (remote control, agreement signed) with 5–40 days of its average charge.
    rng = random.Random(f"gridcollect-bench-prepaid:{ctx.seed}")
    Customer.objects.update(settlement_mode="prepaid_remote", remote_control_agreement=True)
    PrepaidEntry.objects.all().delete()
    ControlCommand.objects.all().delete()
    PrepaidAccount.objects.all().delete()
    yesterday = day - dt.timedelta(days=1)
    averages = dict(DailyUsage.objects.filter(day=yesterday).values_list("customer_id", "charge"))
    accounts = PrepaidAccount.objects.bulk_create(
        [PrepaidAccount(customer_id=c, opened_on=day - dt.timedelta(days=HISTORY_DAYS)) for c in averages]
    )
    PrepaidEntry.objects.bulk_create(
        [
            PrepaidEntry(
                account=a,
                kind="adjustment",
                day=a.opened_on,
                amount=(averages[a.customer_id] * Decimal(rng.randint(5, 40))).quantize(Decimal("0.01")),
                note="opening balance",
            )
            for a in accounts
        ],
        batch_size=5000,
    )

    def reset_prepaid():
        with transaction.atomic():
            PrepaidEntry.objects.filter(day=day, kind="daily_charge").delete()
            ControlCommand.objects.all().delete()
            Notification.objects.all().delete()
            PrepaidAccount.objects.update(state="normal")

    results: list[object] = []
    prepaid_times = _timed(ctx.runs, ctx.phase_seconds, reset_prepaid, lambda: results.append(prepaid_run(day=day)))
    last = results[-1]
    commands = ControlCommand.objects.count()
    warnings = Notification.objects.count()

    daily_median = median(daily_times)
    prepaid_median = median(prepaid_times)
    return "\n\n".join(
        [
            "## 7. Daily statistics and forecasts (`daily_stats_run` + `forecasts_run`)",
            f"All {customers:,} customers, {prepared['meters']:,} meters; readings loaded as for benchmark 4 "
            f"(through {day}); the {HISTORY_DAYS} days before {day} computed first as history (not timed: "
            f"{backfill:.1f} s for {HISTORY_DAYS} days, {backfill / HISTORY_DAYS:.2f} s a day). **Method.** "
            f"each run deletes the day's rows, then times the daily job for {day}: statistics (and the "
            "re-check of estimated days) followed by forecasts and exposure. Median of the runs.",
            table(
                [
                    "customers",
                    "rows",
                    "runs",
                    "median s",
                    "min–max s",
                    "per customer ms",
                    "statistics s",
                    "forecasts s",
                    f"target ≤ {TARGET_DAILY_SECONDS} s",
                ],  # fmt: skip
                [
                    [
                        customers,
                        rows,
                        len(daily_times),
                        round(daily_median, 1),
                        Figure(f"{min(daily_times):.1f}–{max(daily_times):.1f}"),
                        round(daily_median / customers * 1000, 2),
                        round(median(daily_parts["statistics"]), 1),
                        round(median(daily_parts["forecasts"]), 1),
                        "**met**" if daily_median <= TARGET_DAILY_SECONDS else "**missed**",
                    ]
                ],
            ),
            "## 8. Prepaid deduction and threshold check (`prepaid_run`)",
            f"The same portfolio with every customer switched to remote prepaid control (agreement signed): "
            f"{len(accounts):,} accounts opened with 5–40 days of their average charge, the {HISTORY_DAYS} days of "
            f"statistics above as the averages' history. **Method.** each run removes the day's deductions, "
            f"commands and messages and resets the warning states, then times `prepaid_run` for {day}: one "
            "deduction per account from the day's statistics, balances, days left, warnings through the outbox, "
            "trips or escalations. Median of the runs.",
            table(
                [
                    "accounts",
                    "deducted",
                    "runs",
                    "median s",
                    "min–max s",
                    "commands",
                    "messages queued",
                    f"target ≤ {TARGET_PREPAID_SECONDS} s",
                ],  # fmt: skip
                [
                    [
                        len(accounts),
                        getattr(last, "deducted", "—"),
                        len(prepaid_times),
                        round(prepaid_median, 1),
                        Figure(f"{min(prepaid_times):.1f}–{max(prepaid_times):.1f}"),
                        commands,
                        warnings,
                        "**met**" if prepaid_median <= TARGET_PREPAID_SECONDS else "**missed**",
                    ]
                ],
            ),
        ]
    )
