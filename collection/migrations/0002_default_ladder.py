"""The default dunning ladder of DESIGN.md rule 3, as data a manager edits in the admin."""

from django.db import migrations

LEVELS = [
    dict(
        step=1, code="reminder", days_overdue=1, needs_approval=False, call_task=False,
        subject_en="Electricity bill reminder", subject_zh="电费缴纳提醒",
        template_en=(
            "Dear customer {name} (account {account}): {amount} of electricity charges is overdue "
            "({bills}). A late-payment penalty accrues daily. Please pay by bank transfer, online "
            "banking, mobile payment or at our counters."
        ),
        template_zh=(
            "尊敬的{name}（户号{account}）：您有电费{amount}已逾期（{bills}），逾期每日计收违约金。"
            "请通过电汇、网银、手机缴费或营业厅及时缴纳。"
        ),
    ),
    dict(
        step=2, code="demand", days_overdue=10, needs_approval=False, call_task=True,
        subject_en="Formal payment demand", subject_zh="电费催费通知书",
        template_en=(
            "Formal payment demand to {name} (account {account}): {amount} is {days} days overdue "
            "({bills}), including the late-payment penalty so far. Please pay at once; continued "
            "arrears may lead to suspension of supply under the Electricity Supply Regulations."
        ),
        template_zh=(
            "催费通知书：{name}（户号{account}）电费{amount}已逾期{days}天（{bills}），含截至目前的违约金。"
            "请立即缴纳；继续欠费将依据《电力供应与使用条例》办理停电手续。"
        ),
    ),
    dict(
        step=3, code="suspension", days_overdue=31, needs_approval=True, call_task=True,
        subject_en="Notice of supply suspension", subject_zh="停电通知书",
        template_en=(
            "Notice of supply suspension to {name} (account {account}): {amount} is {days} days "
            "overdue ({bills}) after a formal demand. Unless paid, supply will be suspended no "
            "sooner than 3 days from this notice, with a further notice 30 minutes before."
        ),
        template_zh=(
            "停电通知书：{name}（户号{account}）电费{amount}已逾期{days}天（{bills}），经催缴仍未结清。"
            "如不缴纳，将于本通知送达3日后依法中止供电，停电前30分钟另行通知。"
        ),
    ),
]


def load(apps, schema_editor):
    Policy = apps.get_model("collection", "DunningPolicy")
    Level = apps.get_model("collection", "DunningLevel")
    policy = Policy.objects.create(code="default", name="默认催费策略 / Default ladder", is_default=True)
    for level in LEVELS:
        Level.objects.create(policy=policy, **level)


def unload(apps, schema_editor):
    apps.get_model("collection", "DunningPolicy").objects.filter(code="default").delete()


class Migration(migrations.Migration):
    dependencies = [("collection", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
