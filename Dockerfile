# The emulator itself, as a container. Online the base is the public Python image; offline
# (no registry) build it on the debootstrap base that `.ci/run` makes:
#   docker build --build-arg BASE_IMAGE=fc-emulator/base:bookworm -t fc-emulator .
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
WORKDIR /app
COPY pyproject.toml README.md ./
COPY emulator ./emulator
COPY runtimes ./runtimes
RUN python3 -m venv /venv && /venv/bin/pip install --no-cache-dir .
ENV PATH=/venv/bin:$PATH \
    FC_EMULATOR_HOST=0.0.0.0 \
    FC_EMULATOR_PORT=9000 \
    FC_EMULATOR_DATA_DIR=/data
VOLUME /data
EXPOSE 9000
CMD ["fc-emulator", "serve"]
