# syntax=docker/dockerfile:1
# micro-mcp as a container image: the gateway, and the example services from the same image.
#
#   docker build -t micro-mcp:0.1.0 .
#   docker run --rm --read-only --tmpfs /tmp -p 8765:8765 \
#     -v "$PWD/secrets/gateway.json:/etc/micro-mcp/gateway.json:ro" micro-mcp:0.1.0
#   docker run --rm --read-only --tmpfs /tmp micro-mcp:0.1.0 \
#     service fs --root /data --http --host 0.0.0.0 --port 8000
#
# The default command serves Streamable HTTP on 0.0.0.0:8765 over the packaged example services
# (started inside this container, over stdio); the gateway then refuses to start without a token
# in /etc/micro-mcp/gateway.json (see docs/DEPLOY.md). Nothing is written outside /tmp and /data:
# run it with a read-only root filesystem and give those two as tmpfs or volumes.
#
# EXTRAS installs optional dependencies, e.g. --build-arg EXTRAS='[embeddings,otlp]'.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG EXTRAS=""
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/micro-mcp
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
# Compiled at build time: with a read-only root filesystem, nothing can be compiled later.
RUN /opt/micro-mcp/bin/pip install ".${EXTRAS}"

FROM ${PYTHON_IMAGE}
# A fixed numeric id, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
RUN groupadd --system --gid 10001 micro-mcp \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin micro-mcp \
    && install -d -o 10001 -g 10001 -m 0750 /data \
    && install -d -m 0755 /etc/micro-mcp
COPY --from=build /opt/micro-mcp /opt/micro-mcp
ENV PATH=/opt/micro-mcp/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/data
WORKDIR /data
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8765
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8765/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["micro-mcp"]
CMD ["gateway", "--transport", "http", "--host", "0.0.0.0", "--port", "8765", \
     "--config", "/etc/micro-mcp/gateway.json", "--log-format", "json"]
