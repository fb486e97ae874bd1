from django.urls import path

from hub.integrations.mail import views

app_name = "mail"

urlpatterns = [
    path("o/<str:token>.gif", views.open_pixel, name="open"),
    path("c/<str:token>", views.click, name="click"),
]
