# The reference app as an image: `docker build -t scimkit-reference-app .`
# The build stage installs the project into a virtualenv; the final stage copies only that
# virtualenv, so no compiler, pip cache or source tree ends up in the image.

FROM python:3.12-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/scimkit
WORKDIR /src
COPY pyproject.toml README.md ./
COPY scimkit ./scimkit
COPY reference_app ./reference_app
# Not editable: the final image must not need /src. Every server `--server` names is installed,
# so SCIMKIT_SERVER=uvicorn (the README's pick for speed) or granian needs no other image.
RUN /opt/scimkit/bin/pip install --no-cache-dir ".[mongo,server,uvicorn,granian]"

FROM python:3.12-slim-bookworm
# A fixed uid so volume and secret file permissions can be set for it from outside.
RUN groupadd --system --gid 10001 scimkit \
    && useradd --system --uid 10001 --gid scimkit --no-create-home --shell /usr/sbin/nologin scimkit
COPY --from=build /opt/scimkit /opt/scimkit
ENV PATH=/opt/scimkit/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SCIMKIT_HOST=0.0.0.0 \
    SCIMKIT_PORT=8000
USER 10001:10001
EXPOSE 8000
# Liveness only: `healthcheck` asks this container's own /healthz (port and TLS from SCIMKIT_*).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["reference-app", "healthcheck"]
# hypercorn handles SIGTERM itself (open requests finish), so the app must be PID 1's child
# without a shell in between: exec form.
ENTRYPOINT ["reference-app"]
CMD ["serve"]
