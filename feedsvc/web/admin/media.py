"""Picture uploads of the article editor: POST /admin/media with a file ``image`` (and the
CSRF token, like every admin form), answered in JSON for the editor's script: 201 with the
stored picture's URLs, type, length and size, or an error in the reader's language: 400 (no
file), 413 (too many bytes), 415 (not a JPEG, PNG or WebP picture) or 422 (too many pixels).
Editors and admins."""

from flask import Blueprint, Response, jsonify, request
from flask_babel import gettext

from feedsvc.errors import N_, FeedsvcError, TooLarge, TooManyPixels, UnsupportedMedia
from feedsvc.media import store_image
from feedsvc.web import context

blueprint = Blueprint("media", __name__, url_prefix="/media")
UPLOAD_ENDPOINT = "admin.media.upload"
# Room for the form's other fields and the multipart framing around the file.
FORM_OVERHEAD_BYTES = 64 * 1024


def request_limit() -> int:
    """The largest body the upload takes (the site's max_request_bytes is for text)."""
    return context.settings().media_max_upload_bytes + FORM_OVERHEAD_BYTES


def _refused(status: int, exc: FeedsvcError) -> Response:
    response = jsonify({"error": exc.text(gettext)})
    response.status_code = status
    return response


@blueprint.post("/")
def upload() -> Response:
    file = request.files.get("image")
    if file is None or not file.filename:
        response = jsonify({"error": gettext(N_("Chưa chọn tệp ảnh."))})
        response.status_code = 400
        return response
    settings = context.settings()
    # Read one byte past the limit: enough to know a file is too large without reading it all.
    data = file.stream.read(settings.media_max_upload_bytes + 1)
    try:
        image = store_image(context.media_store(), data, settings)
    except TooLarge as exc:
        return _refused(413, exc)
    except TooManyPixels as exc:
        return _refused(422, exc)
    except UnsupportedMedia as exc:
        return _refused(415, exc)
    response = jsonify(
        {
            "url": image.url,
            "type": image.media_type,
            "length": image.length,
            "width": image.width,
            "height": image.height,
            "thumbnail_url": image.thumbnail_url,
        }
    )
    response.status_code = 201
    return response
