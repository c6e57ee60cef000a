from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "linli.knowledge"
    label = "knowledge"
    verbose_name = "知识库"

    def ready(self) -> None:
        from . import perms  # noqa: F401  (registers the knowledge.* permission names)
