from django.urls import include, path

from api import views

# The SMS-Activate gateway, listed first of all the project's URLs (config/urls.py):
# tools poll it hundreds of times a second, and resolving it after every portal
# pattern was a measurable part of a call's CPU (issue 14).
gateway_patterns = [
    # SMS-Activate tools call <base>/stubs/handler_api.php or handler_api.php; both spellings.
    path("api/handler_api.php", views.handler_api, name="handler_api_php"),
    path("api/handler_api", views.handler_api, name="handler_api"),
]

urlpatterns = [
    path("teams/<uuid:code>/api/", views.api_keys, name="api_keys"),
    # The REST API (api/v1/, django-ninja): bearer keys, its own error envelope.
    path("api/v1/", include("api.v1.urls")),
]
