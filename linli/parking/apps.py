from django.apps import AppConfig


class ParkingConfig(AppConfig):
    name = "linli.parking"
    label = "parking"
    verbose_name = "停车"

    def ready(self) -> None:
        from . import charging, perms

        perms.register()
        charging.register_commands()
