# The `team` profile's helper image (docker-compose.yml): PostgreSQL and nginx from Debian, on the
# offline Debian 12 runtime image (no registry needed: `fc-emulator images build --offline custom.debian12`).
# The same image runs the database (`postgres` service) and the load balancer in front of the
# replicas (`lb` service); docker/team-entry.sh picks the role.
ARG BASE_IMAGE=fc-emulator/custom.debian12:latest
FROM ${BASE_IMAGE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql nginx-light \
    && rm -rf /var/lib/apt/lists/*
COPY docker/team-entry.sh /usr/local/bin/team-entry
RUN chmod 0755 /usr/local/bin/team-entry
ENTRYPOINT ["/usr/local/bin/team-entry"]
