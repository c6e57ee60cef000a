from .web import ELDER_COOKIE


def linli(request):
    return {
        "elder_mode": request.COOKIES.get(ELDER_COOKIE) == "1",
        "product_name": "邻里",
    }
