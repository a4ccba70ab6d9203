"""The default 100-point scorecard of DESIGN.md rule 8 and the default grade policies, as data
managers edit (a change is published as a new version)."""

from django.db import migrations


def band(*rows):
    return [{"min": low, "max": high, "points": points} for low, high, points in rows]


CRITERIA = [
    dict(key="on_time", group="payment", label_en="Bills paid on time", label_zh="按时缴费",
         source="on_time_ratio", weight=20,
         bands=band((None, 0.5, 0), (0.5, 0.7, 5), (0.7, 0.85, 10), (0.85, 0.95, 15), (0.95, None, 20)),
         explanation_en="paid {on_time} of the last {count} bills on time",
         explanation_zh="最近{count}期电费按时缴纳{on_time}期"),
    dict(key="worst_delay", group="payment", label_en="Worst delay", label_zh="最长逾期",
         source="worst_days_overdue", weight=10,
         bands=band((None, 1, 10), (1, 10, 7), (10, 30, 4), (30, 60, 2), (60, None, 0)),
         explanation_en="longest delay {days} days in 12 months", explanation_zh="12个月内最长逾期{days}天"),
    dict(key="arrears", group="payment", label_en="Arrears against the average bill", label_zh="欠费占月均电费",
         source="arrears_ratio", weight=10,
         bands=band((None, 0.01, 10), (0.01, 0.5, 6), (0.5, 1, 3), (1, None, 0)),
         explanation_en="{arrears} overdue, {share} of an average bill",
         explanation_zh="逾期欠费{arrears}，为月均电费的{share}"),
    dict(key="commitments", group="commitments", label_en="Promises and agreements kept", label_zh="履约情况",
         source="broken_commitments", weight=10,
         bands=band((None, 1, 10), (1, 2, 5), (2, None, 0)),
         explanation_en="{count} broken promises or arrangements in 12 months",
         explanation_zh="12个月内违约承诺或协议{count}次"),
    dict(key="operating", group="operating", label_en="Operating status", label_zh="经营状况",
         source="operating_status", weight=10,
         bands=band((None, 0.1, 0), (0.1, 0.4, 2), (0.4, 0.9, 5), (0.9, None, 10)),
         explanation_en="operating status: {status}", explanation_zh="经营状况：{status}"),
    dict(key="consumption", group="operating", label_en="Consumption trend", label_zh="用电量趋势",
         source="consumption_trend", weight=10,
         bands=band((None, -0.5, 0), (-0.5, -0.3, 3), (-0.3, -0.1, 6), (-0.1, None, 10)),
         explanation_en="consumption {change} against {basis}", explanation_zh="用电量较{basis}变化{change}"),
    dict(key="policy", group="policy", label_en="Industry policy exposure", label_zh="产业政策风险",
         source="policy_industry", weight=10,
         bands=band((None, 0.5, 4), (0.5, None, 10)),
         explanation_en="{industry}: {assessment}", explanation_zh="{industry}：{assessment}"),
    dict(key="equipment", group="equipment", label_en="Equipment and lines", label_zh="设备与线路",
         source="equipment_lines", weight=10,
         bands=band((None, 0.2, 0), (0.2, 0.5, 3), (0.5, 0.9, 6), (0.9, None, 10)),
         explanation_en="equipment {condition}, {lines}", explanation_zh="设备{condition}，{lines}"),
    dict(key="cover", group="cover", label_en="Cover held", label_zh="担保与预付",
         source="cover_ratio", weight=10, method="linear", linear_from=0, linear_to=1,
         explanation_en="{cover} held, {months} months of an average bill",
         explanation_zh="担保及预付{cover}，相当于{months}个月电费"),
]  # fmt: skip

POLICIES = [
    dict(grade="AAA", settlement_mode="", guarantee_months=0, monitoring_days=90,
         incentives="Service incentives: help with line upgrades and equipment installation / 优质服务激励：协助线路改造、设备安装"),
    dict(grade="AA", settlement_mode="", guarantee_months=0, monitoring_days=60, incentives=""),
    dict(grade="A", settlement_mode="", guarantee_months=0, monitoring_days=30, incentives=""),
    dict(grade="B", settlement_mode="instalments", guarantee_months=0, monitoring_days=14, incentives=""),
    dict(grade="C", settlement_mode="prepaid_remote", guarantee_months=1, monitoring_days=7, incentives=""),
]  # fmt: skip


def load(apps, schema_editor):
    Scorecard = apps.get_model("risk", "Scorecard")
    Criterion = apps.get_model("risk", "Criterion")
    GradePolicy = apps.get_model("risk", "GradePolicy")
    card = Scorecard.objects.create(
        version=1,
        name="默认评分卡 / Default scorecard",
        status="published",
        grade_bands=[["AAA", 90], ["AA", 80], ["A", 70], ["B", 60], ["C", 0]],
        notes="DESIGN.md rule 8",
    )
    for position, criterion in enumerate(CRITERIA):
        Criterion.objects.create(scorecard=card, position=position, **criterion)
    for policy in POLICIES:
        GradePolicy.objects.create(**policy)


def unload(apps, schema_editor):
    apps.get_model("risk", "GradePolicy").objects.all().delete()
    apps.get_model("risk", "Scorecard").objects.filter(version=1).delete()


class Migration(migrations.Migration):
    dependencies = [("risk", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
