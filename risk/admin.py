"""Admin for the risk floor. Scorecards are data managers edit: a draft with its criteria inline;
a published or retired version is read-only (a change is a new version, so old scores keep the
rules they were computed with), and publishing goes through the same checks as the staff page.
Scores, runs, proposals and alerts are computed or decided elsewhere and only shown here."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.admin import SimpleHistoryAdmin

from .choices import ScorecardStatusChoices
from .models import CreditScore, Criterion, GradePolicy, PolicyProposal, RiskAlert, Scorecard, ScoringRun
from .services import scorecard_draft_from, scorecard_publish
from .services_policy import grade_check


def _is_draft(obj) -> bool:
    return obj is None or obj.status == ScorecardStatusChoices.DRAFT


class CriterionInline(admin.StackedInline):
    model = Criterion
    extra = 0

    def has_add_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_delete_permission(request, obj)


@admin.register(Scorecard)
class ScorecardAdmin(SimpleHistoryAdmin):
    list_display = ["version", "name", "status", "published_at", "published_by"]
    list_filter = ["status"]
    inlines = [CriterionInline]
    actions = ["publish", "new_draft"]
    # The status changes only by publishing (checked) or by a newer version's publication.
    readonly_fields = ["status", "published_at", "published_by", "created_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        if _is_draft(obj):
            return self.readonly_fields
        return [f.name for f in Scorecard._meta.fields]

    def has_change_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # A version that scored customers is kept (the scores point at it); drafts may go.
        return _is_draft(obj) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description=gettext_lazy("Publish the selected draft"))
    def publish(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one draft to publish."), messages.ERROR)
            return
        card = queryset.get()
        try:
            scorecard_publish(card=card, by=request.user)
        except (ValidationError, PermissionDenied) as exc:
            problems = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            self.message_user(
                request,
                _("Version %(version)s was not published: %(problems)s")
                % {"version": card.version, "problems": " ".join(problems)},
                messages.ERROR,
            )
        else:
            self.message_user(request, _("Version %(version)s is published.") % {"version": card.version})

    @admin.action(description=gettext_lazy("Make a new draft from the selected version"))
    def new_draft(self, request, queryset):
        for card in queryset.order_by("version"):
            try:
                draft = scorecard_draft_from(card=card, by=request.user)
            except PermissionDenied as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return
            self.message_user(
                request,
                _("Draft version %(draft)s made from version %(version)s.")
                % {"draft": draft.version, "version": card.version},
            )


class GradePolicyAdminForm(forms.ModelForm):
    class Meta:
        model = GradePolicy
        fields = ["grade", "settlement_mode", "guarantee_months", "monitoring_days", "incentives"]

    def clean_grade(self):
        try:
            return grade_check(self.cleaned_data["grade"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["grade"]) from None


@admin.register(GradePolicy)
class GradePolicyAdmin(SimpleHistoryAdmin):
    """The dunning ladder of a grade is chosen on the staff page (Grade policies), which keeps
    the dunning policies' credit grades, the place the dunning run reads, in step."""

    form = GradePolicyAdminForm
    list_display = ["grade", "settlement_mode", "guarantee_months", "monitoring_days", "incentives"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CreditScore)
class CreditScoreAdmin(ReadOnlyAdmin):
    list_display = ["customer", "as_of", "score", "grade", "score_grade", "override", "scorecard"]
    list_filter = ["grade", "override", "scorecard"]
    search_fields = ["customer__account_no", "customer__name"]
    date_hierarchy = "as_of"


@admin.register(ScoringRun)
class ScoringRunAdmin(ReadOnlyAdmin):
    list_display = ["as_of", "scorecard", "status", "done", "total", "started_at", "finished_at"]
    list_filter = ["status"]


@admin.register(PolicyProposal)
class PolicyProposalAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = ["customer", "grade", "kind", "settlement_mode", "guarantee_amount", "status", "decided_by"]
    list_filter = ["status", "kind", "grade"]
    search_fields = ["customer__account_no", "customer__name"]


@admin.register(RiskAlert)
class RiskAlertAdmin(ReadOnlyAdmin):
    list_display = ["customer", "kind", "raised_on", "detail", "acknowledged_at", "acknowledged_by"]
    list_filter = ["kind", "raised_on"]
    search_fields = ["customer__account_no", "customer__name"]
