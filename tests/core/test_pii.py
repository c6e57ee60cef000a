import contextlib
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linli.core import pii
from linli.core.errors import Invalid
from linli.core.validators import (
    IdType,
    normalise_id_number,
    normalise_phone,
    parse_resident_id,
    ric_check_digit,
)


def test_H1_encrypt_roundtrip_and_key_id():
    token = pii.encrypt("370102198001011234")
    assert token.startswith("v1:")
    assert "370102198001011234" not in token
    assert pii.decrypt(token) == "370102198001011234"
    assert pii.key_id_of(token) == pii.active_key_id()


def test_H1_ciphertext_is_randomised_but_blind_index_is_stable():
    assert pii.encrypt("x") != pii.encrypt("x")
    assert pii.blind_index("37010219800101123x", purpose="id") == pii.blind_index(" 37010219800101123X", purpose="id")
    assert pii.blind_index("a", purpose="id") != pii.blind_index("a", purpose="phone")


def test_H1_key_rotation_decrypts_old_values(settings):
    import base64
    import os

    old = base64.b64encode(os.urandom(32)).decode()
    new = base64.b64encode(os.urandom(32)).decode()
    settings.LINLI_PII_KEYS = f"k1:{old}"
    pii.reset_keys()
    token = pii.encrypt("secret")
    settings.LINLI_PII_KEYS = f"k2:{new},k1:{old}"
    pii.reset_keys()
    try:
        assert pii.decrypt(token) == "secret"
        assert pii.key_id_of(pii.encrypt("secret")) == "k2"
    finally:
        pii.reset_keys()


def test_H1_masks():
    assert pii.mask_name("张三华") == "张*华"
    assert pii.mask_name("李四") == "李*"
    assert pii.mask_id_number("370102198001011234") == "3701**********1234"
    assert pii.mask_phone("+8613812345678") == "138****5678"


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)), st.integers(0, 999))
def test_H1_valid_resident_ids_parse(birth, seq):
    first17 = f"370102{birth:%Y%m%d}{seq:03d}"
    number = first17 + ric_check_digit(first17)
    value, parsed_birth, gender = parse_resident_id(number.lower())
    assert value == number
    assert parsed_birth == birth
    assert gender == ("M" if seq % 2 else "F")


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)), st.integers(0, 999), st.sampled_from("0123456789X"))
def test_H1_wrong_check_digit_rejected(birth, seq, digit):
    first17 = f"370102{birth:%Y%m%d}{seq:03d}"
    if ric_check_digit(first17) == digit:
        return
    with pytest.raises(Invalid) as exc:
        parse_resident_id(first17 + digit)
    assert exc.value.code == "person.id_number_checksum"


@given(st.text(max_size=30))
def test_H1_arbitrary_text_never_crashes_id_parsing(text):
    for id_type, _ in IdType.CHOICES:
        with contextlib.suppress(Invalid):
            normalise_id_number(id_type, text)


@given(st.text(max_size=25))
def test_H1_arbitrary_text_never_crashes_phone_parsing(text):
    with contextlib.suppress(Invalid):
        assert normalise_phone(text).startswith("+")


@pytest.mark.parametrize("raw", ["13812345678", "138 1234 5678", "+86 138-1234-5678", "0531-86081234"])
def test_H1_valid_phones_normalise_to_e164(raw):
    assert normalise_phone(raw).startswith("+86")


@pytest.mark.parametrize("raw", ["12345", "1381234567", "abc", ""])
def test_H1_invalid_phones_rejected(raw):
    with pytest.raises(Invalid):
        normalise_phone(raw)
