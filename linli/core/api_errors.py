"""Install the one error shape on a NinjaAPI: {"code","message","detail"} with a 4xx status."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from .errors import DomainError, validation_detail
from .i18n import Msg


def error_body(code: str, message: Msg | str, detail: dict | None = None) -> dict:
    text = message.text() if isinstance(message, Msg) else message
    return {"code": code, "message": text, "detail": detail or {}}


def install(api: NinjaAPI) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        response = api.create_response(request, exc.as_dict(), status=exc.status)
        retry_after = exc.detail.get("retry_after") if exc.status == 429 else None
        if retry_after is not None:
            response["Retry-After"] = str(int(retry_after))
        return response

    @api.exception_handler(NinjaValidationError)
    def schema_error(request, exc: NinjaValidationError):
        fields: dict[str, list[str]] = {}
        for err in exc.errors:
            loc = ".".join(str(p) for p in err.get("loc", []) if p not in ("body", "query", "path", "payload"))
            fields.setdefault(loc or "__all__", []).append(str(err.get("msg", "invalid")))
        body = error_body("request.invalid", Msg("请求参数有误", "The request is not valid"), {"fields": fields})
        return api.create_response(request, body, status=422)

    @api.exception_handler(DjangoValidationError)
    def model_validation(request, exc: DjangoValidationError):
        body = error_body("validation.failed", Msg("数据校验未通过", "Validation failed"), {"fields": validation_detail(exc)})
        return api.create_response(request, body, status=422)

    @api.exception_handler(AuthenticationError)
    def auth_error(request, exc):
        body = error_body("auth.required", Msg("请先登录或提供有效的访问令牌", "Authentication required"))
        return api.create_response(request, body, status=401)

    @api.exception_handler(Http404)
    def not_found(request, exc):
        body = error_body("not_found", Msg("对象不存在或不在您的管辖范围内", "Not found or outside your scope"))
        return api.create_response(request, body, status=404)

    @api.exception_handler(DjangoPermissionDenied)
    def forbidden(request, exc):
        body = error_body("permission.denied", Msg("没有执行此操作的权限", "You do not have permission for this action"))
        return api.create_response(request, body, status=403)

    @api.exception_handler(IntegrityError)
    def integrity(request, exc):
        body = error_body("conflict.integrity", Msg("与已有数据冲突（唯一性或关联约束）", "Conflicts with existing data (unique or related constraint)"))
        return api.create_response(request, body, status=409)

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        body = error_body(f"http.{exc.status_code}", str(exc))
        return api.create_response(request, body, status=exc.status_code)
