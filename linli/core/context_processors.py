def linli(request):
    return {
        "elder_mode": request.COOKIES.get("linli_elder") == "1",
        "product_name": "邻里",
    }
