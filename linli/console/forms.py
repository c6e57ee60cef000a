"""Console forms: parse and validate what the user typed; nothing here touches the database."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from linli.people.models import SpecialGroup

ID_RE = re.compile(r"^\d{17}[\dXx]$|^[A-Za-z]{1,3}\d{6,17}$")
PHONE_RE = re.compile(r"^(\+?86)?1\d{10}$")
TAIL_RE = re.compile(r"^[\dXx]{4}$")


class LocateForm(forms.Form):
    lat = forms.FloatField(label=_("纬度"), min_value=-90, max_value=90, widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))
    lng = forms.FloatField(label=_("经度"), min_value=-180, max_value=180, widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))


class NameSearchForm(forms.Form):
    q = forms.CharField(label=_("名称"), max_length=100, required=False)


class PersonSearchForm(forms.Form):
    """One box: a full ID number or phone is matched exactly (blind index); 4 characters match the
    last four of the ID number or phone; anything else is a name."""

    q = forms.CharField(label=_("姓名 / 证件号 / 手机号 / 后四位"), max_length=40, required=False)

    def selector_kwargs(self) -> dict[str, str]:
        raw = re.sub(r"[\s-]", "", self.cleaned_data.get("q") or "")
        if not raw:
            return {}
        if ID_RE.match(raw) and not PHONE_RE.match(raw):
            return {"id_number": raw.upper()}
        if PHONE_RE.match(raw):
            return {"phone": raw}
        return {"q": raw.upper() if TAIL_RE.match(raw) else raw}


class RegionFilterForm(forms.Form):
    region = forms.IntegerField(label=_("区域"), required=False, min_value=1, widget=forms.Select)


REVEAL_FIELDS = [("id_number", _("证件号码")), ("phone", _("手机号码"))]


class RevealForm(forms.Form):
    reveal = forms.MultipleChoiceField(
        label=_("查看字段"), choices=REVEAL_FIELDS, widget=forms.CheckboxSelectMultiple, initial=["id_number", "phone"]
    )
    purpose = forms.CharField(label=_("查看事由（必填，将记入审计日志）"), min_length=4, max_length=200)


def special_group_choices() -> list[tuple[str, str]]:
    return list(SpecialGroup.choices)


TOKEN_LIFETIMES = [("30", _("30 天")), ("90", _("90 天")), ("365", _("1 年"))]


class TokenForm(forms.Form):
    name = forms.CharField(label=_("令牌名称（用途）"), max_length=50)
    days = forms.TypedChoiceField(label=_("有效期"), choices=TOKEN_LIFETIMES, coerce=int, initial="90")
