from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from scheduling import ops

urlpatterns = [
    path("", RedirectView.as_view(url="/tasks/", permanent=False)),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("healthz/", ops.healthz, name="healthz"),
    path("metrics", ops.metrics, name="metrics"),
    path("", include("scheduling.urls")),
]
