"""Version 2 of the default scorecard: only the worst-delay bands change.

With version 1's bands (1–10 days: 7, 10–30: 4, 30–60: 2, 60+: 0) a customer who always pays, a
few weeks late, fell to C with those who stop paying, and the backtest's arrears rate of grade B
rose above C's on two demo portfolios (docs/BENCHMARKS.md, the credit-score backtest). Version 2
gives nothing only at 90 days, the arrears the grade is meant to foresee (and the automatic C's
line). A published version is never edited: version 2 is published and version 1 retired, so
scores already made keep version 1. Skipped when a manager has published another card since.
"""

from django.db import migrations

V2_WORST_DELAY = [
    {"min": None, "max": 1, "points": 10},
    {"min": 1, "max": 10, "points": 8},
    {"min": 10, "max": 30, "points": 6},
    {"min": 30, "max": 60, "points": 4},
    {"min": 60, "max": 90, "points": 2},
    {"min": 90, "max": None, "points": 0},
]


def publish_v2(apps, schema_editor):
    Scorecard = apps.get_model("risk", "Scorecard")
    v1 = Scorecard.objects.filter(version=1, status="published").first()
    if v1 is None or Scorecard.objects.filter(version__gt=1).exists():
        return
    v2 = Scorecard.objects.create(
        version=2, name=v1.name, status="draft", grade_bands=v1.grade_bands,
        notes="DESIGN.md rule 8; worst-delay bands reach 0 points at 90 days",
    )  # fmt: skip
    for criterion in v1.criteria.all():
        criterion.pk, criterion.scorecard = None, v2
        if criterion.key == "worst_delay":
            criterion.bands = V2_WORST_DELAY
        criterion.save()
    # One published card at a time: retire v1 before v2 is published.
    v1.status = "retired"
    v1.save(update_fields=["status"])
    v2.status = "published"
    v2.save(update_fields=["status"])


def unpublish_v2(apps, schema_editor):
    Scorecard = apps.get_model("risk", "Scorecard")
    if Scorecard.objects.filter(version=2, scores__isnull=True).exists():
        Scorecard.objects.filter(version=2).delete()
        Scorecard.objects.filter(version=1).update(status="published")


class Migration(migrations.Migration):
    dependencies = [("risk", "0002_default_scorecard")]
    operations = [migrations.RunPython(publish_v2, unpublish_v2)]
