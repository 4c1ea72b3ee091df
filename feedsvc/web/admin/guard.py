"""Role checks of the admin sections."""

from flask import abort, g


def admin_only() -> None:
    """A before_request hook: editors may use the articles section only."""
    if g.admin.role != "admin":
        abort(403)
