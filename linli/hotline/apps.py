from django.apps import AppConfig


class HotlineConfig(AppConfig):
    name = "linli.hotline"
    label = "hotline"
    verbose_name = "热线"

    def ready(self) -> None:
        from . import perms  # noqa: F401  (registers the hotline.* permission names)
