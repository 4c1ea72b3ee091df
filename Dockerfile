# feedsvc: `feedsvc serve` by default (web and scheduler in one process: a container that stands
# alone on its SQLite volume). With PostgreSQL, scale out with web-only containers
# (`gunicorn --config /app/config/gunicorn.conf.py 'feedsvc.web:create_app()'`) and
# `feedsvc worker` containers: see compose.yaml.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY feedsvc ./feedsvc
# requirements.lock pins every runtime dependency: an image built next month has the same versions.
RUN pip install --no-cache-dir --prefix=/install --constraint requirements.lock .

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FEEDSVC_CONFIG=/app/config/feedsvc.toml \
    FEEDSVC_DATABASE_URL=sqlite:////data/feedsvc.db \
    FEEDSVC_MEDIA_DIR=/data/media \
    FEEDSVC_BIND=0.0.0.0:8000
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin feedsvc \
    && mkdir -p /data \
    && chown 10001 /data
COPY --from=build /install /usr/local
WORKDIR /app
COPY config ./config
COPY docker/entrypoint.sh /usr/local/bin/feedsvc-entrypoint
USER 10001
VOLUME ["/data"]
EXPOSE 8000
# Asks /healthz at the `bind` setting (FEEDSVC_BIND), on the loopback address for 0.0.0.0.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["feedsvc", "healthcheck"]
ENTRYPOINT ["feedsvc-entrypoint"]
CMD ["feedsvc", "serve"]
