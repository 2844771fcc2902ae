# The Python services of the Batik.Net NOC stack: the exporter (batiknet-exporter) and the case tracker
# (batiknet-cases). One image, two commands; see docker-compose.yml.
FROM python:3.11.10-slim-bookworm

# WeasyPrint (the case tracker's PDF reports) needs Pango and HarfBuzz from the distribution, plus a font.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# XDG_CACHE_HOME: fontconfig's cache (WeasyPrint) goes to the tmpfs, the root file system being read-only.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XDG_CACHE_HOME=/tmp/cache \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/batiknet
# Exact versions with their hashes (requirements/runtime.lock, refreshed by `make lock`), then the project
# alone, built with the locked setuptools.
COPY requirements/runtime.lock ./requirements/
RUN pip install --require-hashes -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY batiknet ./batiknet
COPY exporter ./exporter
COPY alert_webhook ./alert_webhook
RUN pip install --no-deps --no-build-isolation . && rm -rf build

COPY deploy/docker-entrypoint.sh /usr/local/bin/batiknet-entrypoint
# The data directory exists in the image so that a fresh named volume mounted there belongs to the user.
# The tracker's instance folder (its session key when none is given) lives there too: the root file
# system is read-only in docker-compose.yml.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/batiknet --create-home batiknet \
    && install -d -o batiknet -g batiknet -m 0750 /var/lib/batiknet/data
ENV BATIKNET_INSTANCE_PATH=/var/lib/batiknet/data

USER batiknet
WORKDIR /var/lib/batiknet
ENTRYPOINT ["/usr/local/bin/batiknet-entrypoint"]
CMD ["batiknet-cases", "serve", "--listen", "0.0.0.0:8088"]
