from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "linli.cases"
    label = "cases"
    verbose_name = "事 · 事件工单"
