def test_U1_chinese_by_default_even_for_english_browsers(client):
    r = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert r.status_code == 200
    assert r["Content-Language"] == "zh-hans"


def test_U1_english_when_chosen(client):
    client.cookies["django_language"] = "en"
    r = client.get("/")
    assert r["Content-Language"] == "en"


def test_U1_unknown_language_cookie_falls_back_to_chinese(client):
    client.cookies["django_language"] = "xx"
    assert client.get("/")["Content-Language"] == "zh-hans"
