# feedsvc: web (gunicorn) by default; `docker run IMAGE feedsvc worker` for the scheduler.
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
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["feedsvc-entrypoint"]
CMD ["gunicorn", "--config", "/app/config/gunicorn.conf.py", "feedsvc.web:create_app()"]
