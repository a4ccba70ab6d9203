import datetime as dt

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from core.benchmarks import benchmarks_section_write
from core.roles import is_manager
from risk.backtest import (
    DOC_SECTION,
    FOLDS,
    HORIZON_MONTHS,
    NOTES,
    AnalysisMissing,
    backtest,
    default_as_of,
    fit,
    report,
)
from risk.models import Scorecard
from risk.services import published_scorecard, scorecard_draft_from, scorecard_publish


class Command(BaseCommand):
    help = (
        "Backtest a scorecard: score every billed customer as of a past date from what was known then and measure "
        "how the score ranks the customers that went 90+ days into arrears in the following months (AUC, KS, "
        "arrears rate per grade). --fit adds a logistic regression on the same criteria (needs scikit-learn, the "
        "`analysis` extra); --publish-fitted --by <manager> publishes its weights as a new scorecard version."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of", type=dt.date.fromisoformat, help="scoring date (default: 6 months before the latest due date)"
        )
        parser.add_argument("--months", type=int, default=HORIZON_MONTHS, help="outcome window after the date")
        parser.add_argument("--card", type=int, help="scorecard version to test (default: the published one)")
        parser.add_argument("--fit", action="store_true", help="also fit and cross-validate a logistic regression")
        parser.add_argument("--folds", type=int, default=FOLDS, help=f"cross-validation folds (default {FOLDS})")
        parser.add_argument(
            "--publish-fitted", action="store_true", help="publish the fitted weights as a new version (implies --fit)"
        )
        parser.add_argument("--by", help="username of the manager who publishes (with --publish-fitted)")
        parser.add_argument("--write-docs", action="store_true", help="replace the section in docs/BENCHMARKS.md")

    def handle(self, *args, **options):
        publishing = options["publish_fitted"]
        user = None
        if publishing:
            # Checked before the minutes of scoring and fitting, not after.
            if not options["by"]:
                raise CommandError("--publish-fitted needs --by <manager username>")
            user = get_user_model().objects.filter(username=options["by"]).first()
            if user is None:
                raise CommandError(f"no user {options['by']!r}")
            if not (user.is_superuser or is_manager(user)):  # scorecard_draft_from checks it again
                raise CommandError(f"{user.username} is not a manager: only managers publish scorecards")
        card = self._card(options["card"])
        as_of = options["as_of"] or default_as_of(options["months"])
        if as_of is None:
            raise CommandError("no bills to backtest: load the demo data first (make demo)")
        try:
            result = backtest(as_of=as_of, card=card, horizon_months=options["months"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if not result.rows:
            raise CommandError(f"no customer was billed by {as_of}")
        if options["fit"] or publishing:
            try:
                result.fit = fit(result, folds=options["folds"])
            except AnalysisMissing as exc:
                raise CommandError(str(exc)) from exc
            except ValueError as exc:
                raise CommandError(f"cannot fit: {exc}") from exc
        else:
            self.stdout.write("(no fitted weights: add --fit; it needs scikit-learn, the `analysis` extra)\n")
        text = report(result, database=_database(), card_note=NOTES)
        self.stdout.write(text)
        if result.fit:
            weights = ", ".join(f"{key} {weight}" for key, weight in result.fit.weights.items())
            self.stdout.write(f"fitted weights (sum {sum(result.fit.weights.values())}): {weights}")
        if options["write_docs"]:
            self._write_docs(text)
        if publishing:
            self._publish(card, result, user)

    def _card(self, version: int | None) -> Scorecard:
        if version is None:
            try:
                return published_scorecard()
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        card = Scorecard.objects.filter(version=version).first()
        if card is None:
            raise CommandError(f"no scorecard version {version}")
        return card

    def _publish(self, card: Scorecard, result, user) -> None:
        name = f"Fitted {result.as_of} / 拟合权重 {result.as_of}"
        try:
            draft = scorecard_draft_from(card=card, by=user, name=name[:100], weights=result.fit.weights)
            draft.notes = (
                f"Weights of a logistic regression fitted by `manage.py risk_backtest` on the customers billed by "
                f"{result.as_of} and their arrears up to {result.through}; out-of-fold AUC "
                f"{result.fit.evaluation.auc:.3f}, copied from version {card.version}."
            )
            draft.save(update_fields=["notes"])
            published = scorecard_publish(card=draft, by=user)
        except PermissionDenied as exc:
            raise CommandError(f"{user.username} may not publish scorecards: {exc}") from exc
        except ValidationError as exc:
            raise CommandError("the fitted scorecard failed its checks: " + " ".join(exc.messages)) from exc
        self.stdout.write(f"published scorecard v{published.version} ({published.name}) by {user.username}")

    def _write_docs(self, text: str) -> None:
        path = benchmarks_section_write(DOC_SECTION, text)
        self.stdout.write(f"updated {path.name}")


def _database() -> str:
    return {"postgresql": "PostgreSQL", "sqlite": "SQLite"}.get(connection.vendor, connection.vendor)
