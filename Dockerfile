# The scaleout agent image: FROM scratch, nothing pulled from a registry.
#
# Build it with `make image` (IMAGE=scaleout:local by default): make builds
# the static binary bin/scaleout (CGO_ENABLED=0, version stamped) and the
# directories git cannot hold (bin/image/), then runs `docker build` with the
# repository root as the context (.dockerignore sends only what is copied
# here). The docker end-to-end tests build their image from this file too
# (cmd/scaleout/e2e_docker_harness_test.go) and add busybox on top.
#
# The image holds only the binary: packages can use the built-in tasks (sql,
# file, http, set, package, data flow) and exec tasks of programs in the
# image (/bin/scaleout); a package that needs a shell or other tools needs an
# image built FROM this one that adds them.
FROM scratch

# The user the agent runs as (uid/gid 10001, no shell, no password).
COPY deploy/docker/passwd deploy/docker/group /etc/
# /tmp (mode 1777): snapshot restores and packages write there.
COPY bin/image/root/ /
# /data (mode 0700, owned by the agent's user): Raft log, snapshots, catalog,
# attempt work dirs and saved results. Mount a volume here.
COPY --chown=10001:10001 bin/image/data/ /
COPY bin/scaleout /bin/scaleout

ENV PATH=/bin
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# HTTP API and console; Raft; gossip (TCP and UDP).
EXPOSE 8391/tcp 8392/tcp 8393/tcp 8393/udp

ENTRYPOINT ["/bin/scaleout"]
# Without arguments: a one-node dev cluster whose state survives in the
# /data volume, its API published on every interface of the container
# (docker run -p 8391:8391 IMAGE). A real cluster passes its own arguments
# (agent --node ... --data-dir /data --bootstrap-expect 3 --join ...):
# see docker-compose.yml and docs/operations.md.
CMD ["agent", "--dev", "--data-dir", "/data", "--http-addr", "0.0.0.0:8391"]
