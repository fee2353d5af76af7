# One image for every Jobline process: `jobline api`, `jobline worker`, `jobline scheduler`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/jobline
COPY pyproject.toml README.md ./
COPY app ./app
COPY workers ./workers
COPY scheduler ./scheduler
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /srv/jobline jobline

USER jobline
EXPOSE 8080
CMD ["jobline", "api", "--host", "0.0.0.0", "--port", "8080"]
