"""gunicorn settings of the web process in the container (`feedsvc serve` sets its own)."""

import os

bind = os.environ.get("FEEDSVC_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("FEEDSVC_WEB_THREADS", "4"))
timeout = 30
accesslog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
