from django.urls import path

from . import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("elder/", views.elder_toggle, name="elder"),
    path("home/", views.my_home, name="my_home"),
    path("profile/", views.profile, name="profile"),
    path("consents/", views.consents, name="consents"),
]
