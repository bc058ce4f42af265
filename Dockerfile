# The router image: `docker build -t comfy-router .` then
# `docker run -p 8080:8080 -e COMFY_ROUTER__PASSWORD=... -v /shared/comfyui:/comfyui comfy-router`.
# The image holds no tests or benchmarks (.dockerignore); `python manage.py alive` is the health
# check of a `worker` container, which has no HTTP port (see docker-compose.yml).
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    COMFY_ROUTER__HOST=0.0.0.0 \
    COMFY_ROUTER__PORT=8080 \
    COMFY_ROUTER__DATA_DIR=/data \
    COMFY_ROUTER__DOWNLOAD__CACHE_DIR=/comfyui/router-cache \
    COMFY_ROUTER__DOWNLOAD__ROOT_DIR=/comfyui

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

RUN useradd --create-home --uid 1000 router \
    && mkdir -p /data /comfyui \
    && chown router:router /data /comfyui
COPY --chown=router:router . .

USER router
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health_check' % os.environ['COMFY_ROUTER__PORT'], timeout=2)"
ENTRYPOINT ["python", "manage.py", "serve"]
