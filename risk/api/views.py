"""API of the risk floor: the latest grade of each customer, a customer's score history with
the breakdown (and rescoring now), the scorecard versions (managers), alerts with their
acknowledgement, and policy proposals with the area leader's decision.

Every row is reached through the customer scope (customers_visible_to): a customer or id
outside it is a 404. A role that may not act is a 403; bad input is a 400 naming the field.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from core.api.mixins import as_drf_validation_error, service_errors
from core.api.permissions import HasRole
from core.permissions import can_lead, can_log_contact_work
from core.roles import is_manager
from customers.selectors import customers_visible_to
from risk.alerts import alert_acknowledge
from risk.filtersets import CreditScoreFilterSet, PolicyProposalFilterSet, RiskAlertFilterSet
from risk.models import CreditScore, Criterion, PolicyProposal, RiskAlert, Scorecard
from risk.scoring import scorecard_check
from risk.selectors import alerts_visible_to, latest_scores_visible_to, proposals_visible_to, scores_of
from risk.services import proposal_decide, score_one
from risk.services_policy import NOTE_MAX


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


class ManagerOnly(HasRole):
    """Scorecards are the managers' (DESIGN.md "Who may do what")."""

    message = "Only managers read the scorecards."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and is_manager(request.user)


# ---------------------------------------------------------------------------------------------
# Serializers
# ---------------------------------------------------------------------------------------------
class BreakdownItemSerializer(serializers.Serializer):
    """One criterion of a score as computed that day, with its reason in both languages."""

    key = serializers.CharField()
    group = serializers.CharField(required=False, default="")
    label_en = serializers.CharField()
    label_zh = serializers.CharField()
    weight = serializers.DecimalField(max_digits=5, decimal_places=1)
    points = serializers.DecimalField(max_digits=5, decimal_places=1)
    value = serializers.FloatField(allow_null=True, help_text="the figure the points come from; null: no data")
    reason_en = serializers.CharField()
    reason_zh = serializers.CharField()


class CreditScoreSerializer(serializers.ModelSerializer):
    customer = serializers.SlugRelatedField(slug_field="account_no", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    region = serializers.CharField(source="customer.region.code", read_only=True)
    industry = serializers.CharField(source="customer.industry", read_only=True)
    importance = serializers.CharField(source="customer.importance", read_only=True)
    scorecard_version = serializers.IntegerField(source="scorecard.version", read_only=True)

    class Meta:
        model = CreditScore
        fields = [
            "id",
            "customer",
            "customer_name",
            "region",
            "industry",
            "importance",
            "as_of",
            "score",
            "grade",
            "score_grade",
            "override",
            "scorecard_version",
            "computed_at",
        ]
        read_only_fields = fields


class CreditScoreDetailSerializer(CreditScoreSerializer):
    breakdown = BreakdownItemSerializer(many=True, read_only=True)

    class Meta(CreditScoreSerializer.Meta):
        fields = [*CreditScoreSerializer.Meta.fields, "breakdown"]
        read_only_fields = fields


class CriterionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Criterion
        fields = [
            "key",
            "group",
            "label_en",
            "label_zh",
            "source",
            "weight",
            "method",
            "bands",
            "linear_from",
            "linear_to",
            "no_data_share",
            "explanation_en",
            "explanation_zh",
            "position",
        ]
        read_only_fields = fields


class ScorecardSerializer(serializers.ModelSerializer):
    criteria = CriterionSerializer(many=True, read_only=True)
    published_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    problems = serializers.SerializerMethodField(help_text="what keeps a draft from being published; empty: none")

    class Meta:
        model = Scorecard
        fields = [
            "version",
            "name",
            "status",
            "grade_bands",
            "notes",
            "published_at",
            "published_by",
            "created_at",
            "criteria",
            "problems",
        ]
        read_only_fields = fields

    def get_problems(self, card: Scorecard) -> list[str]:
        try:
            scorecard_check(card, sorted(card.criteria.all(), key=lambda c: (c.position, c.pk)))
        except DjangoValidationError as exc:
            return exc.messages
        return []


class RiskAlertSerializer(serializers.ModelSerializer):
    customer = serializers.SlugRelatedField(slug_field="account_no", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    acknowledged = serializers.SerializerMethodField()
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = RiskAlert
        fields = [
            "id",
            "customer",
            "customer_name",
            "kind",
            "raised_on",
            "detail",
            "detail_zh",
            "acknowledged",
            "acknowledged_by",
            "acknowledged_at",
            "note",
        ]
        read_only_fields = fields

    def get_acknowledged(self, alert: RiskAlert) -> bool:
        return alert.acknowledged_at is not None


class PolicyProposalSerializer(serializers.ModelSerializer):
    customer = serializers.SlugRelatedField(slug_field="account_no", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    current_settlement_mode = serializers.CharField(source="customer.settlement_mode", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = PolicyProposal
        fields = [
            "id",
            "customer",
            "customer_name",
            "grade",
            "kind",
            "current_settlement_mode",
            "settlement_mode",
            "guarantee_amount",
            "reason",
            "reason_zh",
            "status",
            "decided_by",
            "decided_at",
            "decision_note",
            "created_at",
        ]
        read_only_fields = fields


class AcknowledgeSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=NOTE_MAX, help_text="what was done about the alert")


class DecisionSerializer(serializers.Serializer):
    note = serializers.CharField(
        max_length=NOTE_MAX, required=False, allow_blank=True, default="", help_text="required to reject"
    )


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------
class ScoreViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The latest score and grade of each customer in your scope. `changed_since` lists the
    customers whose grade now differs from the one they had before that date."""

    serializer_class = CreditScoreSerializer
    filterset_class = CreditScoreFilterSet
    permission_classes = [HasRole]
    ordering_fields = ["score", "as_of", "customer__account_no"]
    ordering = ["customer__account_no"]

    def get_queryset(self):
        return latest_scores_visible_to(self.request.user).order_by("customer__account_no")


class CustomerScoresApi(generics.ListAPIView):
    """A customer's scores, newest first, each with its breakdown and the reasons in English and
    Chinese as they were computed. POST rescores the customer now (collections staff)."""

    serializer_class = CreditScoreDetailSerializer
    permission_classes = [HasRole]
    filter_backends: list = []

    def _customer(self):
        return get_object_or_404(customers_visible_to(self.request.user), account_no=self.kwargs["account_no"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no customer
            return CreditScore.objects.none()
        return scores_of(self._customer()).select_related("customer__region")

    @extend_schema(
        request=None,
        responses={
            201: CreditScoreDetailSerializer,
            400: OpenApiResponse(description="No scorecard is published"),
            403: OpenApiResponse(description="Only collections staff rescore"),
            404: OpenApiResponse(description="No such customer in your scope"),
        },
        description="Rescore the customer now with the published scorecard: replaces today's score, keeps the rest.",
    )
    def post(self, request, account_no: str):
        customer = self._customer()
        _require(can_log_contact_work(request.user), "Only collections staff rescore customers.")
        try:
            score = score_one(customer=customer, by=request.user)
        except DjangoValidationError as exc:
            raise as_drf_validation_error(exc) from None
        score = scores_of(customer).select_related("customer__region").get(pk=score.pk)
        return Response(CreditScoreDetailSerializer(score).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(responses={200: ScorecardSerializer(many=True), 403: OpenApiResponse(description="Managers")}),
    retrieve=extend_schema(responses={200: ScorecardSerializer, 403: OpenApiResponse(description="Managers")}),
)
class ScorecardViewSet(viewsets.ReadOnlyModelViewSet):
    """Every version of the scorecard with its criteria, bands and status (managers). A draft's
    `problems` are what its publishing would be refused for."""

    serializer_class = ScorecardSerializer
    permission_classes = [ManagerOnly]
    lookup_field = "version"
    lookup_value_regex = r"\d{1,9}"
    filter_backends: list = []
    pagination_class = None  # a handful of versions: the whole list, as the schema says

    def get_queryset(self):
        return Scorecard.objects.select_related("published_by").prefetch_related("criteria").order_by("-version")


class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Early warnings for the customers in your scope; `acknowledged=false` lists the open ones."""

    serializer_class = RiskAlertSerializer
    filterset_class = RiskAlertFilterSet
    permission_classes = [HasRole]
    ordering_fields = ["raised_on", "kind"]

    def get_queryset(self):
        return alerts_visible_to(self.request.user).order_by("-raised_on", "-id")

    @extend_schema(
        request=AcknowledgeSerializer,
        responses={
            200: RiskAlertSerializer,
            400: OpenApiResponse(description="No note, or the alert is already acknowledged"),
            403: OpenApiResponse(description="Only collections staff acknowledge alerts"),
            404: OpenApiResponse(description="No such alert in your scope"),
        },
        description="Acknowledge an alert with a note saying what was done; once.",
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        alert = self.get_object()
        _require(can_log_contact_work(request.user), "Only collections staff acknowledge alerts.")
        data = AcknowledgeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with service_errors():
            alert = alert_acknowledge(alert=alert, by=request.user, note=data.validated_data["note"])
        return Response(RiskAlertSerializer(self.get_queryset().get(pk=alert.pk)).data)


def _decision_schema(bad_request: str, description: str) -> dict:
    """The schema of a proposal decision (accept and reject differ in their 400 and their text)."""
    return {
        "request": DecisionSerializer,
        "responses": {
            200: PolicyProposalSerializer,
            400: OpenApiResponse(description=bad_request),
            403: OpenApiResponse(description="Only area leaders and managers decide"),
            404: OpenApiResponse(description="No such proposal in your scope"),
        },
        "description": description,
    }


class ProposalViewSet(viewsets.ReadOnlyModelViewSet):
    """Changes of treatment a customer's grade calls for, proposed to the area leader (never
    applied silently); `status=open` lists those waiting for a decision."""

    serializer_class = PolicyProposalSerializer
    filterset_class = PolicyProposalFilterSet
    permission_classes = [HasRole]
    ordering_fields = ["created_at", "grade"]

    def get_queryset(self):
        return proposals_visible_to(self.request.user).order_by("-created_at", "-id")

    def _decide(self, request, accept: bool):
        proposal = self.get_object()
        _require(can_lead(request.user), "Only area leaders and managers decide proposals.")
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with service_errors():
            proposal = proposal_decide(proposal=proposal, by=request.user, accept=accept,
                                       note=data.validated_data["note"])  # fmt: skip
        return Response(PolicyProposalSerializer(self.get_queryset().get(pk=proposal.pk)).data)

    @extend_schema(**_decision_schema(
        "Already decided, or the change cannot be applied to the customer",
        "Accept: a settlement mode is applied to the customer's archive (with its history).",
    ))  # fmt: skip
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._decide(request, accept=True)

    @extend_schema(**_decision_schema(
        "No note, or already decided", "Reject with a note; the same proposal is not made again for 90 days."
    ))  # fmt: skip
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decide(request, accept=False)
