from django.apps import AppConfig


class IotConfig(AppConfig):
    name = "linli.iot"
    label = "iot"
    verbose_name = "物 · 设备与告警"

    def ready(self) -> None:
        from . import perms

        perms.register()
