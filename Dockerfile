# syntax=docker/dockerfile:1
# Multi-stage build on Debian 12: the same packages and build as the README.
#   docker build -t jobrunner .
#   docker run --rm -e DATABASE_URL=postgresql://user@db/app jobrunner            # run-foo-jobs once
#   docker run --rm -e DATABASE_URL=... jobrunner jobctl db upgrade

FROM debian:12 AS build
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN /src/scripts/install-deps.sh
COPY . /src
WORKDIR /src
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJOBRUNNER_WERROR=ON \
          -DJOBRUNNER_BUILD_TESTS=OFF -DJOBRUNNER_BUILD_BENCHMARKS=OFF \
 && cmake --build build -j"$(nproc)" \
 && cmake --install build --prefix /opt/jobrunner --strip

FROM debian:12-slim AS runtime
# Only the shared libraries the executables load (libpqxx pulls in libpq;
# run-webhook-jobs and run-mail-jobs load libcurl, the webhook runner also
# OpenSSL's libcrypto, and both verify TLS against ca-certificates).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpqxx-6.4 libspdlog1.10 libfmt9 libdate-tz3 libcpp-httplib0.11 tzdata ca-certificates \
      libcurl4 libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin jobrunner
COPY --from=build /opt/jobrunner/bin/ /usr/local/bin/
USER jobrunner
# The database comes from DATABASE_URL (or PGHOST, PGDATABASE, ...).
ENTRYPOINT []
CMD ["run-foo-jobs", "--log-format", "json"]
