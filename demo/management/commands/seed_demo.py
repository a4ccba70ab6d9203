"""`manage.py seed_demo`: the demo portfolio and demo users (customers.demo), then months of
readings, bills and payments for the new customers (billing.demo).

The command lives in the top-floor `demo` app because it uses both floors: the archive may not
import billing (DESIGN.md, "Floors").
"""

import time
import unicodedata

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max
from django.utils import timezone

from billing.demo import DemoHistoryError, DemoHistoryResult, demo_history_seed
from billing.demo_scale import READ_EVERY, DemoBulkResult, demo_history_bulk
from customers.demo import DEMO_PASSWORD, DemoLogin, demo_logins, demo_portfolio_seed
from customers.models import Customer

# Above this many collectors the login table shows the first few per area and counts the rest.
_COLLECTOR_ROWS_SHOWN = 24
# A provincial company's large-customer teams: a collector (客户经理) per this many customers.
SCALE_CUSTOMERS_PER_COLLECTOR = 300


def _width(text: str) -> int:
    """Columns the text takes in a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


class Command(BaseCommand):
    help = (
        "Load a believable demo portfolio of large customers (regions, customers, meter points, contacts, "
        "service visits) and demo users, the same for the same --seed. If the database already has customers, "
        "the new customers are ADDED: the demo region tree and each area's collectors are reused, and account "
        "and meter numbers continue after the highest existing ones, so they never collide. Use --if-empty to "
        "do nothing in that case. Demo users (password 'gridcollect-demo') are refused where the settings set "
        "DEMO_USERS_ALLOWED = False, as production does; --no-users then loads the portfolio alone. "
        "Unless --no-history is given, the new customers then get --months of daily meter readings, the bills "
        "of the real billing runs for each complete month, payments and late-payment penalties. The billing "
        "runs bill every monthly and instalment customer in the database with readings and no bill yet for "
        "those months, as the monthly job would. --scale N loads a province-size portfolio of N customers the "
        f"fast way instead: every district and area, a collector per {SCALE_CUSTOMERS_PER_COLLECTOR} customers, and "
        "the months of bills, payments and penalties written in bulk (billing.demo_scale), with daily readings "
        f"for one customer in {READ_EVERY} and credit grades set from each customer's payment behaviour."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=None, help="customers to create (default 300)")
        parser.add_argument(
            "--scale",
            type=int,
            default=None,
            metavar="N",
            help="a province-size portfolio of N customers (e.g. 100000), its history written in bulk",
        )
        parser.add_argument("--seed", type=int, default=42, help="random seed; the same seed gives the same data")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing (except list the demo logins) when the database already has customers",
        )
        parser.add_argument("--no-users", action="store_true", help="create no users; customers stay unassigned")
        parser.add_argument(
            "--months", type=int, default=13, help="months of readings, bills and payments (default 13)"
        )
        parser.add_argument(
            "--no-history", action="store_true", help="load the archive only: no readings, bills or payments"
        )

    def handle(
        self,
        *args,
        customers: int | None,
        scale: int | None,
        seed: int,
        if_empty: bool,
        no_users: bool,
        months: int,
        no_history: bool,
        **options,
    ):
        if scale is not None and customers is not None:
            raise CommandError("Give --customers or --scale, not both: --scale N loads N customers.")
        customers = scale if scale is not None else 300 if customers is None else customers
        if not 0 <= customers <= 1_000_000:
            raise CommandError("--customers must be between 0 and 1,000,000.")
        if not 1 <= months <= 36:
            raise CommandError("--months must be between 1 and 36.")
        existing = Customer.objects.count()
        if if_empty and existing:
            self.stdout.write(f"The database already has {existing} customers: no demo data loaded (--if-empty).")
            if settings.DEMO_USERS_ALLOWED:
                self._print_logins(demo_logins())
            return
        if not no_users and not settings.DEMO_USERS_ALLOWED:
            raise CommandError(
                "These settings do not allow demo users (DEMO_USERS_ALLOWED = False, as in production): "
                "they would have a publicly known password. Run with --no-users to load only the portfolio."
            )

        started = time.perf_counter()
        last_id = Customer.objects.aggregate(last=Max("id"))["last"] or 0
        if scale is not None:
            result = demo_portfolio_seed(
                customers=customers,
                seed=seed,
                with_users=not no_users,
                customers_per_collector=SCALE_CUSTOMERS_PER_COLLECTOR,
                every_area=True,
            )
        else:
            result = demo_portfolio_seed(customers=customers, seed=seed, with_users=not no_users)
        elapsed = time.perf_counter() - started

        if not no_users:
            self._print_logins(demo_logins())
        if existing:
            self.stdout.write(f"Added to the {existing} customers already in the database.")
        share = f"{result.important / result.customers:.0%}" if result.customers else "-"
        industries = ", ".join(f"{name} {n}" for name, n in result.industries.most_common())
        modes = ", ".join(f"{name} {n}" for name, n in result.settlement_modes.most_common())
        self.stdout.write(
            self.style.SUCCESS(
                f"Seed {seed}: {result.customers} customers ({result.important} important users, {share}), "
                f"{result.meter_points} meter points, {result.contacts} contacts, "
                f"{result.service_visits} service visits, {result.regions_created} regions and "
                f"{result.users_created} users created in {elapsed:.1f} s."
            )
        )
        if result.customers:
            self.stdout.write(f"Industries: {industries}")
            self.stdout.write(f"Settlement modes: {modes}")
        if result.customers and not no_history:
            started = time.perf_counter()
            new_customers = Customer.objects.filter(id__gt=last_id)
            try:
                if scale is not None:
                    history = demo_history_bulk(customers=new_customers, seed=seed, months=months)
                else:
                    history = demo_history_seed(customers=new_customers, seed=seed, months=months)
            except DemoHistoryError as exc:
                raise CommandError(f"The demo history was not loaded: {exc}") from exc
            self._print_history(history, time.perf_counter() - started)
            if isinstance(history, DemoBulkResult):
                self._print_bulk(history)
            else:
                self._derive()

    def _derive(self) -> None:
        """What the nightly jobs would have made of the history: grades with their reasons and
        proposals, the day's early warnings, and the dashboards' summary with its month-ends."""
        from dashboards.summary import summary_rebuild, summary_rebuild_history
        from risk.alerts import alerts_raise
        from risk.services import score_run

        started = time.perf_counter()
        today = timezone.localdate()
        run = score_run(as_of=today)
        alerts = alerts_raise(day=today)
        months = summary_rebuild_history(as_of=today)
        rows = summary_rebuild(as_of=today)
        self.stdout.write(
            f"Scored {run.done} customers, raised {alerts} alerts, built the dashboard summary ({rows} rows, "
            f"{len(months)} month-ends) in {time.perf_counter() - started:.1f} s."
        )

    def _print_history(self, history: DemoHistoryResult, elapsed: float) -> None:
        periods = f"{history.periods[0]} to {history.periods[-1]}" if history.periods else "-"
        skipped = ", ".join(f"{reason} {n}" for reason, n in history.bills_skipped.most_common())
        behaviours = ", ".join(f"{name} {n}" for name, n in history.archetypes.most_common())
        phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in history.seconds.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"History {periods}: {history.readings} readings of {history.meters_read} meters, "
                f"{history.bills} bills, {history.payments} payments ({history.reversals} returned by the bank), "
                f"{history.penalty_rows} penalty accruals in {elapsed:.1f} s."
            )
        )
        self.stdout.write(
            f"Now: {history.paid_bills} bills paid, {history.overdue_bills} overdue; "
            f"{history.customers_in_arrears} customers in arrears, {history.customers_with_credit} with credit."
        )
        self.stdout.write(f"Payment behaviour of the {history.billable} billed customers: {behaviours}")
        if skipped:
            self.stdout.write(f"Bills not issued: {skipped}")
        if history.float_noise_problems or history.noise_penalty_days:
            self.stdout.write(
                self.style.WARNING(
                    f"SQLite rounding: reconcile() reported {history.float_noise_problems} differences that an exact "
                    f"re-check found to be floating-point noise; {history.noise_penalty_days} penalty days were "
                    "accrued on a principal that was zero but for that noise."
                )
            )
        self.stdout.write(f"Phases: {phases}")

    def _print_bulk(self, history: DemoBulkResult) -> None:
        grades = ", ".join(f"{grade} {n}" for grade, n in sorted(history.grades.items()))
        self.stdout.write(
            f"Written in bulk: {history.bills} bills with {history.bill_lines} lines, {history.payments} payments, "
            f"{history.penalty_rows} penalty days; daily readings for {history.read_customers} customers "
            f"(one in {READ_EVERY}); the others' bills come from their load shapes. Credit grades from the "
            f"payment behaviour: {grades}. The money services were bypassed; a sample of the customers was "
            "checked with reconcile(). Build the dashboards' summary with `manage.py dashboard_summary`."
        )

    def _print_logins(self, logins: list[DemoLogin]) -> None:
        if not logins:
            self.stdout.write("No demo users in the database.")
            return
        collectors = [login for login in logins if login.role == "collector"]
        shown = logins
        if len(collectors) > _COLLECTOR_ROWS_SHOWN:
            # The first two collectors of each area are enough to try the scoping; the rest are alike.
            per_scope: dict[str, int] = {}
            shown = []
            for login in logins:
                if login.role == "collector":
                    area = login.scope.split(" in ", 1)[-1]
                    per_scope[area] = per_scope.get(area, 0) + 1
                    if per_scope[area] > 2:
                        continue
                shown.append(login)
        header = DemoLogin("username", "role", "scope")
        widths = [max(_width(getattr(row, col)) for row in [header, *shown]) for col in ("username", "role")]
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        for row in [header, *shown]:
            self.stdout.write(f"  {_pad(row.username, widths[0])}  {_pad(row.role, widths[1])}  {row.scope}")
        hidden = len(logins) - len(shown)
        if hidden:
            self.stdout.write(f"  ... and {hidden} more collectors, each with the customers of one area.")
        self.stdout.write("")
