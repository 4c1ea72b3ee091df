"""The dashboard: sources' health at a glance (a page at a time), deliveries, subscribers,
housekeeping."""

from flask import Blueprint, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from feedsvc.housekeeping import last_sweep
from feedsvc.overview import (
    COUNT_CAP,
    DAYS,
    delivery_counts,
    items_per_day,
    subscriber_counts,
)
from feedsvc.sources import page_sources
from feedsvc.text import utcnow
from feedsvc.web import context
from feedsvc.web.params import position

blueprint = Blueprint("dashboard", __name__)


@blueprint.get("/")
def home() -> ResponseReturnValue:
    if g.admin.role != "admin":  # editors work on articles only
        return redirect(url_for("admin.articles.index"))
    session, now = context.session(), utcnow()
    sources = page_sources(session, position(), context.settings().admin_page_items)
    return render_template(
        "admin/dashboard.html",
        sources=sources,
        activity=items_per_day(session, now, [s.id for s in sources.items]),
        days=DAYS,
        deliveries=delivery_counts(session),
        subscribers=subscriber_counts(session, now),
        cap=COUNT_CAP,
        sweep=last_sweep(session),
    )
