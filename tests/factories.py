

def token_for(acc: Account) -> str:
    from linli.orgs.models import ApiToken, hash_token

    raw = ApiToken.generate()
    ApiToken.objects.create(account=acc, name="test", prefix=raw[:10], key_hash=hash_token(raw))
    return raw
