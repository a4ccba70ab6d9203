"""Validators for identifiers a clerk types by hand."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# GB 32100-2015 统一社会信用代码: 31 symbols (no I, O, Z, S, V), weights 3^i mod 31.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def uscc_check_char(first17: str) -> str:
    """The 18th character for the first 17 (GB 32100-2015 §4.3)."""
    total = sum(USCC_ALPHABET.index(char) * weight for char, weight in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> None:
    code = (value or "").strip().upper()
    if len(code) != 18:
        raise ValidationError(
            _("A unified social credit code has 18 characters; this one has %(n)d."),
            code="uscc_length",
            params={"n": len(code)},
        )
    if not _USCC_SHAPE.match(code):
        raise ValidationError(
            _(
                "A unified social credit code uses digits and the letters A–Y without I, O, S, V and Z, "
                "and characters 3–8 are the digits of an administrative division code."
            ),
            code="uscc_characters",
        )
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise ValidationError(
            _("The check character of this unified social credit code is wrong (expected %(expected)s)."),
            code="uscc_checksum",
            params={"expected": expected},
        )


_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def validate_cn_mobile(value: str) -> None:
    if value and not _MOBILE.match(value):
        raise ValidationError(_("Enter an 11-digit mainland mobile number starting with 13–19."), code="mobile")
