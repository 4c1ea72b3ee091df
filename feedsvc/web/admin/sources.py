"""Sources: list with filters, add with a preview of what would be ingested, edit,
pause/resume, fetch now, delete (after a confirmation page), OPML import and export."""

import random

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from feedsvc.categories import get_category, list_categories
from feedsvc.ingest.claims import SKIP_BUSY
from feedsvc.ingest.history import recent_fetches
from feedsvc.ingest.preview import Preview, preview_source
from feedsvc.ingest.refresh import refresh_source
from feedsvc.ingest.schedule import HOLD_RETRY_AFTER, Hold, manual_fetch_hold
from feedsvc.models import Source
from feedsvc.sources import (
    SOURCE_STATES,
    SourceCreate,
    SourceUpdate,
    add_source,
    delete_source,
    get_source,
    import_outlines,
    list_sources,
    page_sources,
    read_opml,
    update_source,
    write_opml,
)
from feedsvc.text import format_local, utcnow
from feedsvc.web import context
from feedsvc.web.admin.forms import (
    FormProblem,
    attempt,
    done,
    form_page,
    lines_map,
    text,
    whole_number,
)
from feedsvc.web.admin.guard import admin_only
from feedsvc.web.params import position

blueprint = Blueprint("sources", __name__, url_prefix="/sources")
blueprint.before_request(admin_only)


def state_of(source: Source) -> str:
    if not source.enabled:
        return "paused"
    return "failing" if source.consecutive_failures else "active"


@blueprint.get("/")
def index() -> str:
    session = context.session()
    state, category, query = (request.args.get(k, "") for k in ("state", "category", "q"))
    category_id = get_category(session, category).id if category else None
    page = page_sources(
        session, position(), context.settings().admin_page_items, state, category_id, query
    )
    filters = {"state": state, "category": category, "q": query}
    return render_template(
        "admin/sources.html",
        page=page,
        state_of=state_of,
        states=SOURCE_STATES,
        categories=list_categories(session),
        filters={k: v for k, v in filters.items() if v},
    )


def hold_message(hold: Hold) -> str:
    """ "Nguồn đang tạm nghỉ đến dd/mm/yyyy HH:MM (lý do)."; the reason in words."""
    if hold.reason == HOLD_RETRY_AFTER:
        reason = _("máy chủ nguồn yêu cầu chờ (Retry-After)")
    else:
        reason = _("lấy tin bị lỗi, đang giãn thời gian thử lại")
    message: str = _(
        "Nguồn đang tạm nghỉ đến %(until)s (%(reason)s).",
        until=format_local(hold.until),
        reason=reason,
    )
    return message


def _form_page(
    source: Source | None, preview: Preview | None = None, problem: FormProblem | None = None
) -> tuple[str, int]:
    hold = source and manual_fetch_hold(source.hold_until, source.hold_reason, utcnow(), False)
    return form_page(
        "admin/source_form.html",
        problem,
        source=source,
        preview=preview,
        hold=hold_message(hold) if hold else "",
        fetches=recent_fetches(context.session(), source.id) if source else [],
    )


def _preview(mapping: dict[str, str]) -> Preview:
    """What the URL in the form would bring in (the address guard first): nothing stored."""
    settings = context.settings()
    return attempt(
        lambda: preview_source(settings, text("url"), text("category"), mapping, utcnow())
    )


@blueprint.get("/new")
def new() -> tuple[str, int]:
    return _form_page(None)


@blueprint.post("/new")
def create() -> ResponseReturnValue:
    """The preview button fetches the feed and shows its entries; save adds the source."""
    session, settings = context.session(), context.settings()
    try:
        mapping = lines_map(request.form.get("category_map", ""))
        if request.form.get("action") == "preview":
            return _form_page(None, _preview(mapping))
        interval, keep_days = whole_number("interval_minutes"), whole_number("keep_days")
        data = attempt(
            lambda: SourceCreate(
                url=text("url"),
                title=text("title") or None,
                category=text("category"),
                category_map=mapping,
                interval_minutes=interval,
                keep_days=keep_days,
            )
        )
        source = attempt(lambda: add_source(session, data, settings, utcnow(), random.Random()))
    except FormProblem as problem:
        return _form_page(None, problem=problem)
    session.commit()
    done(_("Đã thêm nguồn tin. Lần lấy tin đầu tiên sẽ diễn ra trong ít phút."))
    return redirect(url_for(".edit", source_id=source.id))


@blueprint.get("/<int:source_id>")
def edit(source_id: int) -> tuple[str, int]:
    return _form_page(get_source(context.session(), source_id))


@blueprint.post("/<int:source_id>")
def save(source_id: int) -> ResponseReturnValue:
    """Save the form, or (the preview button) show what its URL would bring in first. A new
    URL forgets the old one's validators and is fetched at the next tick (``update_source``)."""
    session = context.session()
    source = get_source(session, source_id)
    try:
        mapping = lines_map(request.form.get("category_map", ""))
        if request.form.get("action") == "preview":
            return _form_page(source, _preview(mapping))
        interval, keep_days = whole_number("interval_minutes"), whole_number("keep_days")
        data = attempt(
            lambda: SourceUpdate(
                url=text("url") or None,
                title=text("title"),
                category=text("category"),
                category_map=mapping,
                interval_minutes=interval,
                keep_days=keep_days,  # empty: for ever
            )
        )
        attempt(lambda: update_source(session, source_id, data, context.settings(), utcnow()))
    except FormProblem as problem:
        session.rollback()
        return _form_page(get_source(session, source.id), problem=problem)
    session.commit()
    done(_("Đã lưu."))
    return redirect(url_for(".edit", source_id=source_id))


@blueprint.post("/<int:source_id>/pause")
def pause(source_id: int) -> ResponseReturnValue:
    update_source(
        context.session(), source_id, SourceUpdate(enabled=False), context.settings(), utcnow()
    )
    context.session().commit()
    done(_("Đã tạm dừng nguồn tin."))
    return redirect(url_for(".edit", source_id=source_id))


@blueprint.post("/<int:source_id>/resume")
def resume(source_id: int) -> ResponseReturnValue:
    update_source(
        context.session(), source_id, SourceUpdate(enabled=True), context.settings(), utcnow()
    )
    context.session().commit()
    done(_("Đã tiếp tục lấy tin."))
    return redirect(url_for(".edit", source_id=source_id))


@blueprint.post("/<int:source_id>/fetch")
def fetch_now(source_id: int) -> ResponseReturnValue:
    """Fetch now and say what came of it (the fetch has its own transactions). A source
    held back by Retry-After or backoff is fetched only with ``force=1`` (the page's
    "Vẫn lấy ngay" button, shown while it is held)."""
    get_source(context.session(), source_id)
    context.session().commit()
    force = request.form.get("force") == "1"
    outcome = refresh_source(
        context.database(), context.settings(), source_id, utcnow, random.Random(), force=force
    )
    if outcome.hold:
        message = hold_message(outcome.hold)
        flash(message + " " + _("Chưa lấy tin: bấm “Vẫn lấy ngay” nếu vẫn cần."), "error")
    elif outcome.skipped == SKIP_BUSY:
        flash(_("Nguồn đang được lấy tin ở một tiến trình khác, xin thử lại sau."), "error")
    elif outcome.skipped:  # fetched by another process meanwhile: nothing left to do
        done(_("Nguồn vừa được lấy tin ở một tiến trình khác."))
    elif outcome.error:
        done(_("Lấy tin thất bại: %(error)s", error=outcome.error))
    else:
        done(
            _(
                "Đã lấy tin: %(new)d tin mới, %(updated)d tin cập nhật.",
                new=len(outcome.new_ids),
                updated=outcome.updated,
            )
        )
    return redirect(url_for(".edit", source_id=source_id))


@blueprint.get("/<int:source_id>/delete")
def confirm_delete(source_id: int) -> str:
    source = get_source(context.session(), source_id)
    return render_template(
        "admin/confirm.html",
        question=_(
            "Xóa nguồn tin “%(name)s”? Các tin đã lấy về vẫn được giữ.",
            name=source.title or source.url,
        ),
        action=url_for(".delete", source_id=source_id),
        back=url_for(".edit", source_id=source_id),
    )


@blueprint.post("/<int:source_id>/delete")
def delete(source_id: int) -> ResponseReturnValue:
    delete_source(context.session(), source_id)
    context.session().commit()
    done(_("Đã xóa nguồn tin."))
    return redirect(url_for(".index"))


@blueprint.get("/opml")
def export_opml() -> Response:
    body = write_opml(list_sources(context.session()), context.settings().site_title)
    return Response(
        body,
        mimetype="text/x-opml",
        headers={"Content-Disposition": 'attachment; filename="feedsvc-sources.opml"'},
    )


@blueprint.post("/opml")
def import_opml() -> ResponseReturnValue:
    upload = request.files.get("file")
    try:
        outlines = attempt(lambda: read_opml(upload.read() if upload else b""))
    except FormProblem as problem:
        done(_("Không đọc được tệp OPML: %(error)s", error=str(problem)))
        return redirect(url_for(".index"))
    context.session().commit()
    report = import_outlines(
        context.database(),
        context.settings(),
        outlines,
        text("category"),
        utcnow,
        random.Random(),
    )
    done(
        _(
            "Nhập OPML: thêm %(added)d, bỏ qua %(skipped)d (đã có), lỗi %(failed)d.",
            added=report.added,
            skipped=report.skipped,
            failed=len(report.failed),
        )
    )
    for url, why in report.failed:
        flash(f"{url}: {why.text(_)}", "error")
    return redirect(url_for(".index"))
