# One image for the code location, the webserver and the daemon (docker-compose.yml).
FROM python:3.11-slim
WORKDIR /opt/persys
COPY . .
RUN pip install --no-cache-dir . dagster-webserver
ENV DAGSTER_HOME=/var/lib/dagster PERSYS_HOME=/var/lib/persys PERSYS_CONFIG=/etc/persys/persys.yaml
RUN mkdir -p /var/lib/dagster && cp dagster.yaml /var/lib/dagster/dagster.yaml
