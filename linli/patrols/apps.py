from django.apps import AppConfig


class PatrolsConfig(AppConfig):
    name = "linli.patrols"
    label = "patrols"
    verbose_name = "事 · 网格巡查"

    def ready(self) -> None:
        from . import perms  # noqa: F401  (registers the patrol.* permission names)
