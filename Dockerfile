# One image for everything a stack runs: the code locations (one per person in a household),
# the webserver, the daemon, and each run's own container (DockerRunLauncher) or Kubernetes Job
# (K8sRunLauncher). `persys deploy compose|k8s` writes the stack around it; docker-compose.yml
# runs one person without a household.
FROM python:3.11-slim
# git: persys's own checkout can follow its branch (notifications.repositories[].checkout)
RUN apt-get update && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/persys
COPY . .
RUN pip install --no-cache-dir '.[deploy]' dagster-webserver
ENV DAGSTER_HOME=/var/lib/dagster PERSYS_HOME=/var/lib/persys PERSYS_CONFIG=/etc/persys/persys.yaml
RUN mkdir -p /var/lib/dagster /opt/dagster/dagster_home /opt/dagster/app /household \
    && cp dagster.yaml /var/lib/dagster/dagster.yaml
