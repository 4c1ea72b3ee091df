"""The dashboard: every source's health at a glance, deliveries, subscribers, housekeeping."""

from flask import Blueprint, Response, g, redirect, render_template, url_for

from feedsvc.housekeeping import last_sweep
from feedsvc.overview import DAYS, delivery_counts, items_per_day, subscriber_counts
from feedsvc.sources import list_sources
from feedsvc.text import utcnow
from feedsvc.web import context

blueprint = Blueprint("dashboard", __name__)


@blueprint.get("/")
def home() -> str | Response:
    if g.admin.role != "admin":  # editors work on articles only
        return redirect(url_for("admin.articles.index"))  # type: ignore[return-value]
    session, now = context.session(), utcnow()
    return render_template(
        "admin/dashboard.html",
        sources=list_sources(session),
        activity=items_per_day(session, now),
        days=DAYS,
        deliveries=delivery_counts(session),
        subscribers=subscriber_counts(session, now),
        sweep=last_sweep(session),
    )
