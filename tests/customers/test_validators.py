import pytest
from django.core.exceptions import ValidationError

from customers.validators import uscc_check_char, validate_cn_mobile, validate_uscc


# The standard's own example code, one computed below by hand, and a lower-case entry (accepted, upper-cased).
@pytest.mark.parametrize("code", ["91350100M000100Y43", "91310115000000001U", "91350100m000100y43"])
def test_it_accepts_valid_credit_codes(code):
    validate_uscc(code)


def test_it_computes_the_check_character_by_hand():
    # 9 1 3 1 0 1 1 5 0 0 0 0 0 0 0 0 1 with weights 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28:
    # 9*1 + 1*3 + 3*9 + 1*27 + 0*19 + 1*26 + 1*16 + 5*17 + 1*28 = 9+3+27+27+26+16+85+28 = 221
    # 221 mod 31 = 4, so the check value is 31 - 4 = 27; counting from 0 in 0-9 A-H J-N P Q R T U W X Y,
    # symbol 27 is "U" (A=10 ... H=17, J=18 ... N=22, P=23, Q=24, R=25, T=26, U=27)
    assert uscc_check_char("91310115000000001") == "U"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("91350100M000100Y4", "uscc_length"),
        ("91350100M000100Y433", "uscc_length"),
        ("91350100M000100Y44", "uscc_checksum"),
        ("91350100M000100I43", "uscc_characters"),
        ("913501AAM000100Y43", "uscc_characters"),
    ],
)
def test_it_rejects_a_bad_credit_code_with_a_reason(code, error):
    with pytest.raises(ValidationError) as info:
        validate_uscc(code)
    assert info.value.code == error


def test_it_rejects_a_mobile_that_is_not_a_mainland_number():
    validate_cn_mobile("13912345678")
    with pytest.raises(ValidationError):
        validate_cn_mobile("12912345678")
    with pytest.raises(ValidationError):
        validate_cn_mobile("1391234567")
