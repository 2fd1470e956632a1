from django.urls import path

from reports import views

urlpatterns = [path("teams/<uuid:code>/reports/", views.costs, name="reports")]
