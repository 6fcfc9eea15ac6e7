# syntax=docker/dockerfile:1.7
# paygate's one image: the gateway, payment_ms, the dispatcher and the migrations all run from it
# (`paygate serve gateway`, `paygate serve payment-ms`, `paygate dispatcher`, `paygate migrate upgrade head`).
#
#   docker build -t paygate .
#
# Stage 1 resolves nothing: it installs exactly what uv.lock pins (--frozen), without the dev group.
ARG PYTHON_VERSION=3.11
ARG UV_VERSION=0.13

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

FROM python:${PYTHON_VERSION}-slim-bookworm AS builder
COPY --from=uv /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first, in their own layer: source edits do not reinstall them.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-project
COPY pyproject.toml uv.lock README.md alembic.ini ./
COPY alembic ./alembic
COPY shared ./shared
COPY gateway ./gateway
COPY payment_ms ./payment_ms
COPY paygate ./paygate
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev

# Stage 2: the same Python, the virtualenv and the source; no uv, no compilers, no root.
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 paygate \
    && useradd --system --uid 10001 --gid paygate --home-dir /app --no-create-home --shell /usr/sbin/nologin paygate
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PAYGATE_ENV=prod
WORKDIR /app
COPY --from=builder --chown=root:root /app /app
USER paygate:paygate
# 8010: the gateway's internal listener (/internal/*, /metrics), for the private network only
EXPOSE 8000 8001 8010
# `paygate serve` checks the configuration, then execs granian (PID 1 receives SIGTERM directly).
ENTRYPOINT ["paygate"]
CMD ["serve", "gateway", "--host", "0.0.0.0", "--port", "8000"]
