"""/api/v1/ — one NinjaAPI; each domain contributes a router from its own api.py."""

from __future__ import annotations

import importlib

from ninja import NinjaAPI

from linli.core import api_errors
from linli.orgs.auth import api_auth

api = NinjaAPI(
    title="邻里 Linli API",
    version="1.0.0",
    description="智慧社区平台开放接口。认证：`Authorization: Bearer <token>`（令牌在控制台“个人设置”中创建）或控制台会话。"
    " 所有列表使用游标分页（`cursor`, `limit`≤200），错误统一为 `{code, message, detail}`。",
    auth=api_auth,
    urls_namespace="api",
    docs_url="/docs",
)
api_errors.install(api)

# (url prefix, module, tag). A module that does not exist yet is skipped, so apps land one by one.
ROUTERS = [
    ("/auth", "linli.orgs.api_auth", "认证 auth"),
    ("/places", "linli.places.api", "地 places"),
    ("/people", "linli.people.api", "人 people"),
    ("/orgs", "linli.orgs.api", "组织 orgs"),
    ("/audit", "linli.audit.api", "审计 audit"),
    ("/jobs", "linli.core.api_jobs", "任务 jobs"),
    ("/cases", "linli.cases.api", "事 cases"),
    ("/iot", "linli.iot.api", "物 iot"),
    ("/ngsi-ld", "linli.iot.api_ngsi_ld", "NGSI-LD"),
    ("/access", "linli.access.api", "门禁 access"),
    ("/parking", "linli.parking.api", "停车 parking"),
    ("/parking/sharing", "linli.parking.api_sharing", "共享车位 sharing"),
    ("/parking/charging", "linli.parking.api_charging", "充电 charging"),
    ("/knowledge", "linli.knowledge.api", "知识库 knowledge"),
    ("/patrols", "linli.patrols.api", "巡查 patrols"),
    ("/hotline", "linli.hotline.api", "热线 hotline"),
]

for prefix, module_name, tag in ROUTERS:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        continue
    api.add_router(prefix, module.router, tags=[tag])
