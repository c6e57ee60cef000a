import uuid

from . import context


def client_ip(request) -> str:
    return (request.META.get("REMOTE_ADDR") or "")[:64]


def channel_for(path: str) -> str:
    for prefix, name in (("/api/", "api"), ("/console/", "console"), ("/portal/", "portal"), ("/admin/", "admin"), ("/open311/", "open311")):
        if path.startswith(prefix):
            return name
    return "web"


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = context.set_current(
            context.RequestContext(
                ip=client_ip(request),
                user_agent=(request.META.get("HTTP_USER_AGENT") or "")[:200],
                channel=channel_for(request.path),
                request_id=request.META.get("HTTP_X_REQUEST_ID") or uuid.uuid4().hex[:16],
            )
        )
        try:
            return self.get_response(request)
        finally:
            context.reset(token)


class ChineseFirstLocaleMiddleware:
    """zh-Hans by default; English only when chosen (language cookie set by /i18n/setlang/).

    Django's LocaleMiddleware would follow the browser's Accept-Language, so a browser set to
    English would get English pages; Linli's users work in Chinese unless they switch.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings
        from django.utils import translation
        from django.utils.cache import patch_vary_headers

        supported = {code for code, _ in settings.LANGUAGES}
        lang = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if lang not in supported:
            lang = settings.LANGUAGE_CODE
        translation.activate(lang)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response
