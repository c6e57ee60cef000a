"""/console/data/ — imports and exports. Included by linli.console.urls inside the "console"
namespace, so the names are console:data_home, console:data_job, …"""

from django.urls import path

from . import views_data as v

urlpatterns = [
    path("", v.data_home, name="data_home"),
    path("import/", v.data_import, name="data_import"),
    path("export/", v.data_export, name="data_export"),
    path("jobs/<int:job_id>/", v.data_job, name="data_job"),
    path("jobs/<int:job_id>/status/", v.data_job_status, name="data_job_status"),
    path("jobs/<int:job_id>/errors.csv", v.data_job_errors_csv, name="data_job_errors_csv"),
    path("jobs/<int:job_id>/<str:which>/", v.data_job_file, name="data_job_file"),
    path("templates/<str:kind>.<str:fmt>", v.data_template, name="data_template"),
]
