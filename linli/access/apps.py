from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "linli.access"
    label = "access"
    verbose_name = "门禁 · 凭证与通行"

    def ready(self) -> None:
        from . import perms

        perms.register()
