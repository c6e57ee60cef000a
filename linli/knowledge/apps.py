from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "linli.knowledge"
    label = "knowledge"
    verbose_name = "知识库"
