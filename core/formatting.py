"""Formatting shared by templates, messages and notices (not a template concern only)."""

from decimal import Decimal, InvalidOperation


def money(value) -> str:
    """¥ with thousands separators and two decimals (the same in both languages)."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,.2f}"
