"""API schemas of the service hotline (L1): separate In and Out shapes."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Schema

from linli.cases.schemas import CaseOut


class CallIncomingIn(Schema):
    caller: str = Field("", max_length=40, description="来电号码（空 = 未显示号码）")
    external_id: str = Field("", max_length=64, description="话务系统呼叫编号；重复推送同一编号返回同一来电")
    direction: str = Field("inbound", description="inbound 来电 / outbound 去电")
    agent: str = Field("", max_length=150, description="话务系统服务账号（hotline.cti）代坐席登记时：坐席用户名；坐席本人令牌时留空")


class CallOut(Schema):
    id: int
    caller_masked: str
    external_id: str
    direction: str
    agent_id: int
    agent_name: str
    region_id: int
    region_name: str
    started_at: dt.datetime
    answered_at: dt.datetime | None
    ended_at: dt.datetime | None
    outcome: str
    outcome_label: str
    category: str
    person_id: int | None
    person_name_masked: str
    case_id: int | None
    case_number: str
    notes: str
    direction_label: str
    callback_of_id: int | None = Field(None, description="回拨记录：原来电编号")
    callback_result: str = Field("", description="回拨结果（仅回拨记录）")
    callback_result_label: str


class HomeOut(Schema):
    house_id: int
    address: str
    relation: str
    region_name: str


class CaseBriefOut(Schema):
    id: int
    number: str
    title: str
    status: str
    status_label: str
    category: str
    created_at: dt.datetime


class MatchOut(Schema):
    person_id: int
    name_masked: str
    gender: str
    age: int | None
    phone_masked: str
    id_number_masked: str
    region_name: str
    homes: list[HomeOut]
    cases: list[CaseBriefOut]


class LookupOut(Schema):
    matches: list[MatchOut]
    more: bool
    previous_calls: list[CallOut]


class ArticleUseOut(Schema):
    article_id: int
    title: str
    version: int
    used_at: dt.datetime


class CallDetailOut(CallOut):
    articles: list[ArticleUseOut]


class ScreenPopOut(CallDetailOut):
    caller_match: LookupOut | None = Field(None, description="来电人匹配；仅坐席本人请求时返回（话务服务账号看不到人员信息）")
    screen_url: str = Field(..., description="坐席屏幕（控制台）地址，供软电话弹屏打开")


class LinkPersonIn(Schema):
    person_id: int | None = None


class AnswerIn(Schema):
    article_id: int


class OpenCaseIn(Schema):
    category_id: int
    title: str = Field(..., min_length=1, max_length=120)
    description: str = Field("", max_length=5000)
    house_id: int | None = None
    lat: float | None = Field(None, ge=-90, le=90)
    lng: float | None = Field(None, ge=-180, le=180)
    region_id: int | None = None
    address: str = Field("", max_length=200)
    photos: list[str] = Field(default_factory=list, max_length=9)
    person_id: int | None = None
    confirm_new: bool = Field(False, description="附近有疑似重复事件时，确认仍新建")


class OpenCaseOut(Schema):
    call: CallOut
    case: CaseOut


class EndIn(Schema):
    outcome: str
    notes: str = Field("", max_length=4000)
    category: str = ""


class CallbackIn(Schema):
    result: str = Field(..., description="回拨结果：connected 接通 / no_answer 未接通 / busy 占线 / unreachable 关机停机 / "
                                         "wrong_number 号码错误 / declined 拒绝回访")
    notes: str = Field("", max_length=4000)
    follow_up: bool = Field(False, description="回访：已结案工单的满意度回访，记入工单时间线")
    score: int | None = Field(None, ge=1, le=5, description="回访满意度 1–5（接通时；记录需 case.close 权限）")


class RevealIn(Schema):
    purpose: str = Field(..., min_length=2, max_length=200)


class RevealOut(Schema):
    caller: str
