from django.apps import AppConfig


class PlacesConfig(AppConfig):
    name = "linli.places"
    label = "places"
    verbose_name = "地 · 区域与房屋"
