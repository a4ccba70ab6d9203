"""Cached bill status, recomputed from the immutable rows in the transaction that changed them."""

from collections.abc import Iterable

from ..choices import BillStatusChoices
from ..models import Bill
from ..selectors import bills_with_balances


def bill_statuses_refresh(bill_ids: Iterable[int]) -> None:
    ids = list(set(bill_ids))
    if not ids:
        return
    rows = bills_with_balances(Bill.objects.filter(pk__in=ids))
    updates: dict[str, list[int]] = {}
    for bill in rows:
        if bill.principal_due <= 0 and bill.penalty_due <= 0:
            status = BillStatusChoices.PAID
        elif bill.principal_paid > 0 or bill.penalty_paid > 0:
            status = BillStatusChoices.PARTLY_PAID
        else:
            status = BillStatusChoices.ISSUED
        if status != bill.status:
            updates.setdefault(status, []).append(bill.pk)
    for status, pks in updates.items():
        Bill.objects.filter(pk__in=pks).update(status=status)
