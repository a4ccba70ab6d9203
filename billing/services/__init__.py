"""Billing's writes, one module per topic (readings, bills, penalties, payments, statements)."""
