from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "linli.cases"
    label = "cases"
    verbose_name = "事 · 事件工单"

    def ready(self) -> None:
        from . import config, integrations, perms  # noqa: F401  (perms registers the case.* permission names)

        config.connect()
        integrations.connect()
