"""Validation of identity documents and phone numbers (H1)."""

from __future__ import annotations

import datetime as dt
import re

import phonenumbers
from stdnum.cn import ric

from .errors import Invalid
from .i18n import Msg

RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RIC_CHECK = "10X98765432"


class IdType:
    RESIDENT_ID = "resident_id"  # 居民身份证
    PASSPORT = "passport"  # 护照
    HK_MACAO_PERMIT = "hk_macao_permit"  # 港澳居民来往内地通行证 / 居住证
    TAIWAN_PERMIT = "taiwan_permit"  # 台湾居民来往大陆通行证
    FOREIGN_PERMANENT = "foreign_permanent"  # 外国人永久居留身份证
    CHOICES = [
        (RESIDENT_ID, "居民身份证"),
        (PASSPORT, "护照"),
        (HK_MACAO_PERMIT, "港澳居民来往内地通行证"),
        (TAIWAN_PERMIT, "台湾居民来往大陆通行证"),
        (FOREIGN_PERMANENT, "外国人永久居留身份证"),
    ]


def ric_check_digit(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, RIC_WEIGHTS, strict=True))
    return RIC_CHECK[total % 11]


def parse_resident_id(raw: str) -> tuple[str, dt.date, str]:
    """Validate a GB 11643 number → (normalised number, birth date, gender 'M'/'F')."""
    value = (raw or "").strip().upper().replace(" ", "")
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise Invalid("person.id_number_format", Msg("身份证号应为18位（最后一位可为X）", "A resident ID has 18 characters (the last may be X)"))
    if ric_check_digit(value[:17]) != value[17]:
        raise Invalid("person.id_number_checksum", Msg("身份证号校验位错误", "Resident ID check digit is wrong"))
    try:
        birth = ric.get_birth_date(value)
    except Exception as exc:  # stdnum raises InvalidComponent
        raise Invalid("person.id_number_birth", Msg("身份证号中的出生日期无效", "Birth date in resident ID is invalid")) from exc
    if birth > dt.date.today() or birth.year < 1890:
        raise Invalid("person.id_number_birth", Msg("身份证号中的出生日期无效", "Birth date in resident ID is invalid"))
    gender = "M" if int(value[16]) % 2 == 1 else "F"
    return value, birth, gender


_PATTERNS = {
    IdType.PASSPORT: (r"[A-Z0-9]{5,17}", Msg("护照号应为5–17位字母或数字", "Passport numbers have 5–17 letters or digits")),
    IdType.HK_MACAO_PERMIT: (r"[HM]\d{8,10}", Msg("港澳通行证号应以H或M开头，后接8–10位数字", "HK/Macao permits start with H or M and 8–10 digits")),
    IdType.TAIWAN_PERMIT: (r"\d{8}|\d{10}", Msg("台湾居民通行证号应为8或10位数字", "Taiwan permits have 8 or 10 digits")),
    IdType.FOREIGN_PERMANENT: (r"[A-Z]{3}\d{12}|9\d{17}", Msg("外国人永久居留身份证号格式错误", "Foreign permanent residence ID format is wrong")),
}


def normalise_id_number(id_type: str, raw: str) -> str:
    """Validate and normalise an ID-document number of the given type; raise Invalid otherwise."""
    if id_type == IdType.RESIDENT_ID:
        return parse_resident_id(raw)[0]
    if id_type not in _PATTERNS:
        raise Invalid("person.id_type", Msg("未知的证件类型", "Unknown ID document type"), detail={"id_type": id_type})
    value = (raw or "").strip().upper().replace(" ", "")
    pattern, msg = _PATTERNS[id_type]
    if not re.fullmatch(pattern, value):
        raise Invalid("person.id_number_format", msg)
    return value


def normalise_phone(raw: str, region: str = "CN") -> str:
    """Return E.164 (+8613812345678) for a valid mobile or landline; raise Invalid otherwise."""
    value = (raw or "").strip()
    try:
        num = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise Invalid("person.phone_format", Msg("电话号码格式错误", "Phone number format is wrong")) from exc
    if not phonenumbers.is_valid_number(num):
        raise Invalid("person.phone_invalid", Msg("电话号码无效", "Phone number is not valid"))
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
