# The emulator as a container (docker compose up).
# Online, the base is the public Python image and pip installs the dependencies.
# Offline (no registry, as in CI), build on a runtime image with Python 3.11 and bring the
# dependencies as wheels built by the host's Python 3.11:
#   fc-emulator images build --offline --if-missing custom.debian12   # Debian 12, Python 3.11
#   pip wheel -w wheels .
#   FC_EMULATOR_BASE_IMAGE=fc-emulator/custom.debian12:latest docker compose up
# Wheels are unpacked with Python's own zipfile module, so the base needs no pip.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
WORKDIR /app
COPY wheels/ /app/wheels/
COPY pyproject.toml README.md ./
COPY emulator ./emulator
COPY runtimes ./runtimes
RUN if ls /app/wheels/*.whl >/dev/null 2>&1; then \
        for w in /app/wheels/*.whl; do python3 -m zipfile -e "$w" /app/site; done; \
    else \
        python3 -m pip install --no-cache-dir --target /app/site . ; \
    fi && rm -rf /app/wheels
ENV PYTHONPATH=/app/site:/app \
    FC_EMULATOR_HOST=0.0.0.0 \
    FC_EMULATOR_PORT=9000 \
    FC_EMULATOR_DATA_DIR=/data
VOLUME /data
EXPOSE 9000
CMD ["python3", "-m", "emulator", "serve"]
