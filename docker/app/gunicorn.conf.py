"""gunicorn settings for the Flask backend (docker/app/Dockerfile).

Each can be changed from the environment; GUNICORN_CMD_ARGS (gunicorn's own)
overrides any of them, e.g. GUNICORN_CMD_ARGS="--workers 4".
"""
import os


def _int(name, default):
    return int(os.environ.get(name, default))


bind = ["0.0.0.0:%s" % os.environ.get("PORT", "5000")]
workers = _int("WEB_CONCURRENCY", 2)
# gthread keeps HTTP/1.1 connections alive between requests (the sync worker
# closes every one), so lbtls's upstream keep-alive pool is used. An upstream
# pool must drop an idle connection before this timeout does.
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4)
keepalive = _int("GUNICORN_KEEPALIVE", 75)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 5)
# Heartbeat files on tmpfs, not on the (possibly read-only) image layer.
worker_tmp_dir = "/dev/shm"
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# Whose X-Forwarded-Proto/-For gunicorn trusts for wsgi.url_scheme and
# REMOTE_ADDR; /echo-headers shows the raw headers either way.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
