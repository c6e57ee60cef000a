"""Console pages for imports and exports (/console/data/): upload, export, my jobs, one job's
progress (htmx-polled every second until finished), row errors, downloads.

Jobs and their files are the actor's own: another account's job answers 404. Files are streamed
through these views, never served as public media.
"""

from __future__ import annotations

from django import forms
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from linli.core import jobs
from linli.core.pagination import paginate

from .access import console_view, is_htmx

ERRORS_PAGE = 50


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("导入内容"))
    file = forms.FileField(label=_("文件（CSV 或 Excel .xlsx，最大 20 MB / 10 万行）"),
                           widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}))

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k.code, k.label) for k in jobs.kinds_for(actor, imports=True)]


class ExportForm(forms.Form):
    kind = forms.ChoiceField(label=_("导出内容"))
    format = forms.ChoiceField(label=_("格式"), choices=[("csv", "CSV"), ("xlsx", "Excel (.xlsx)")], initial="csv")
    reveal = forms.BooleanField(label=_("导出完整证件号码和电话（需“查看完整信息”权限，留痕）"), required=False)
    purpose = forms.CharField(label=_("用途（导出完整信息时必填）"), max_length=200, required=False)

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k.code, k.label) for k in jobs.kinds_for(actor, imports=False)]


def _home_context(request, **extra):
    actor = request.user
    rows, next_cursor = jobs.job_list(actor=actor, cursor=request.GET.get("cursor") or None, limit=20)
    labels = {code: k.label for code, k in jobs.kinds().items()}
    import_kinds = jobs.kinds_for(actor, imports=True)
    return {
        "jobs": [{"job": j, "label": labels.get(j.kind, j.kind)} for j in rows],
        "next_cursor": next_cursor, "is_first_page": not request.GET.get("cursor"),
        "import_form": extra.pop("import_form", None) or ImportForm(actor=actor),
        "export_form": extra.pop("export_form", None) or ExportForm(actor=actor),
        "import_kinds": import_kinds,
        "can_export": bool(jobs.kinds_for(actor, imports=False)),
        **extra,
    }


@require_GET
@console_view
def data_home(request):
    return render(request, "console/data/home.html", _home_context(request))


@require_POST
@console_view
def data_import(request):
    form = ImportForm(request.POST, request.FILES, actor=request.user)
    if not form.is_valid():
        return render(request, "console/data/home.html", _home_context(request, import_form=form), status=422)
    job = jobs.job_create(actor=request.user, kind=form.cleaned_data["kind"], upload=form.cleaned_data["file"])
    return redirect("console:data_job", job_id=job.pk)


@require_POST
@console_view
def data_export(request):
    form = ExportForm(request.POST, actor=request.user)
    if not form.is_valid():
        return render(request, "console/data/home.html", _home_context(request, export_form=form), status=422)
    params = {"format": form.cleaned_data["format"]}
    if form.cleaned_data["reveal"]:
        params.update(reveal=True, purpose=form.cleaned_data["purpose"])
    job = jobs.job_create(actor=request.user, kind=form.cleaned_data["kind"], params=params)
    return redirect("console:data_job", job_id=job.pk)


def _job_context(request, job_id: int) -> dict:
    job = jobs.job_get(actor=request.user, job_id=job_id)
    spec = jobs.kinds().get(job.kind)
    ctx: dict = {"job": job, "label": spec.label if spec else job.kind, "is_import": bool(spec and spec.is_import)}
    if job.is_finished and job.failed:
        rows, next_cursor = paginate(jobs.job_errors(actor=request.user, job_id=job.pk), cursor=request.GET.get("cursor") or None,
                                     limit=ERRORS_PAGE, order="id")
        ctx.update(errors=rows, next_cursor=next_cursor, is_first_page=not request.GET.get("cursor"))
    return ctx


@require_GET
@console_view
def data_job(request, job_id: int):
    return render(request, "console/data/job.html", _job_context(request, job_id))


@require_GET
@console_view
def data_job_status(request, job_id: int):
    """The progress block (htmx polls it every second while the job runs)."""
    ctx = _job_context(request, job_id)
    if not is_htmx(request):
        return redirect("console:data_job", job_id=job_id)
    return render(request, "console/data/_status.html", ctx)


@require_GET
@console_view
def data_job_errors_csv(request, job_id: int):
    lines = jobs.job_errors_csv(actor=request.user, job_id=job_id)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="job-{job_id}-errors.csv"'
    return response


@require_GET
@console_view
def data_job_file(request, job_id: int, which: str):
    path, name = jobs.job_file(actor=request.user, job_id=job_id, which=which)
    return FileResponse(open(path, "rb"), as_attachment=True, filename=name)


@require_http_methods(["GET"])
@console_view
def data_template(request, kind: str, fmt: str):
    jobs.check_can_start(request.user, jobs.get_kind(kind))
    body, name, content_type = jobs.template_file(kind, fmt)
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quote(name)}"
    return response


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)
