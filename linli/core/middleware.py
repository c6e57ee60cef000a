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
