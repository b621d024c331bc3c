"""`python -m babycry_core serve`: the HTTP API (FastAPI under uvicorn), bound to 127.0.0.1 by default.

    POST /v1/classify   multipart field `file`: the JSON object `predict --json` gives for one file
    POST /v1/detect     multipart field `file`: the crying episodes of a longer recording (episodes.py)
    GET  /v1/models     the registry and the shipped runs with their headline metrics
    GET  /healthz       liveness, the model being served and the pool's load
    GET  /docs          OpenAPI docs

One process loads the model once (`app.answer.answerer()`: with the default `--engine auto` the runs' ONNX exports
where each is current, as `predict` answers, else torch; `--engine torch` / `onnx` to choose). Uploads are read from the request stream in chunks with a running count and parsed in memory
(python-multipart's streaming parser): a body over the limit is refused with 413 as soon as the count passes it
(or at once from Content-Length), never spooled, and nothing touches the disk. Classification runs in a bounded
pool (`workers` threads, at most `queue` more waiting); when that is full the answer is 503 at once, with
Retry-After. Bad input gets {"file", "error", "reason"} with the CLI's one-line message: 413 too large, 415 not
audio, 422 empty, damaged or too long. Nothing answers or logs a traceback: an unexpected error is one log line
and a 500 with one sentence.
"""
from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import math
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from babycry_core.app import catalog
from babycry_core.app.answer import MAX_UPLOAD_BYTES, AudioError, answerer, detect_upload, engine_of, safe_name, too_large
from babycry_core.serving.error_middleware import NoTraceback, one_line  # noqa: F401 (re-exported)

log = logging.getLogger("babycry_core.serving.api")

BODY_SLACK = 64 * 1024  # multipart boundaries and part headers on top of the file itself
FIELD = "file"
STATUS = {"too_large": 413, "not_audio": 415, "no_audio_stream": 415}  # other AudioErrors: 422
UPLOAD_SCHEMA = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": [FIELD],
    "properties": {FIELD: {"type": "string", "format": "binary", "description": "the recording (WAV, MP3, M4A, "
                           "AAC, OGG, FLAC, 3GP, CAF), at most 25 MB and 10 minutes"}}}}}}}
ERRORS = {413: {"description": "over 25 MB (refused while it streams in) or longer than the limit"},
          415: {"description": "not audio (the CLI's one-line message)"},
          422: {"description": "empty, damaged or without a `file` field"},
          503: {"description": "the pool is full: retry later"}}


class Rejected(Exception):
    """An answer that is not a classification: status + the JSON body."""

    def __init__(self, status: int, body: dict, headers: dict | None = None):
        super().__init__(body.get("error", ""))
        self.status, self.body, self.headers = status, body, headers or {}


def finite(obj):
    """JSON-safe: a non-finite float (the level of digital silence is -inf dBFS) becomes null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


# ---------------------------------------------------------------- the upload, streamed and parsed in memory

class UploadParser:
    """Multipart body in chunks → the `file` part's bytes (in memory) and its filename; other parts are dropped."""

    def __init__(self, content_type: str, max_bytes: int):
        from python_multipart.multipart import MultipartParser, parse_options_header

        kind, opts = parse_options_header(content_type or "")
        if kind != b"multipart/form-data" or not opts.get(b"boundary"):
            raise Rejected(415, {"error": f"Send the recording as multipart/form-data with a field named '{FIELD}'.",
                                 "reason": "not_multipart"})
        self.max_bytes = max_bytes
        self.data: bytes | None = None
        self.filename = ""
        self._buf: bytearray | None = None
        self._field, self._value, self._headers = bytearray(), bytearray(), {}
        self._parse_options = parse_options_header
        self.parser = MultipartParser(opts[b"boundary"], {
            "on_part_begin": self._begin, "on_header_field": lambda d, s, e: self._field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._value.extend(d[s:e]), "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done, "on_part_data": self._part_data, "on_part_end": self._end})

    def _begin(self):
        self._headers, self._buf = {}, None

    def _header_end(self):
        self._headers[bytes(self._field).lower()] = bytes(self._value)
        self._field.clear()
        self._value.clear()

    def _headers_done(self):
        _, opts = self._parse_options(self._headers.get(b"content-disposition", b"").decode("latin-1"))
        if opts.get(b"name") == FIELD.encode() and self.data is None:
            self._buf = bytearray()
            self.filename = opts.get(b"filename", b"").decode("utf-8", "replace")

    def _part_data(self, d, s, e):
        if self._buf is not None:
            self._buf.extend(d[s:e])
            if len(self._buf) > self.max_bytes:
                raise Rejected(413, _too_large_body(len(self._buf), self.max_bytes, self.filename))

    def _end(self):
        if self._buf is not None:
            self.data, self._buf = bytes(self._buf), None

    def feed(self, chunk: bytes) -> None:
        from python_multipart.exceptions import FormParserError

        try:
            self.parser.write(chunk)
        except FormParserError as e:
            raise Rejected(422, {"error": f"The upload is not a valid multipart form ({one_line(e)[:120]}).",
                                 "reason": "bad_multipart"}) from None

    def finish(self) -> tuple[bytes, str]:
        from python_multipart.exceptions import FormParserError

        try:
            self.parser.finalize()
        except FormParserError as e:
            raise Rejected(422, {"error": f"The upload is not a valid multipart form ({one_line(e)[:120]}).",
                                 "reason": "bad_multipart"}) from None
        if self.data is None:
            raise Rejected(422, {"error": f"No recording: send it in a multipart field named '{FIELD}'.",
                                 "reason": "no_file"})
        return self.data, self.filename


def _too_large_body(size: int, limit: int, name) -> dict:
    e = too_large(size, limit, name)
    return {"file": safe_name(name) or "upload", "error": str(e), "reason": e.reason}


async def read_upload(request, max_bytes: int) -> tuple[bytes, str]:
    """The `file` part of a multipart request, read chunk by chunk with a running count (413 past the limit)."""
    parser = UploadParser(request.headers.get("content-type", ""), max_bytes)
    cl = request.headers.get("content-length")
    if cl and cl.isdigit() and int(cl) > max_bytes + BODY_SLACK:
        raise Rejected(413, _too_large_body(int(cl), max_bytes, None))
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > max_bytes + BODY_SLACK:
            raise Rejected(413, _too_large_body(seen, max_bytes, parser.filename))
        if chunk:
            parser.feed(chunk)
    return parser.finish()


# ---------------------------------------------------------------- the bounded pool

class Pool:
    """`workers` threads and at most `queue` waiting jobs; `submit` refuses at once when full."""

    def __init__(self, workers: int = 2, queue: int = 8):
        self.workers, self.queue = int(workers), int(queue)
        self.capacity = self.workers + self.queue
        self._slots = threading.BoundedSemaphore(self.capacity)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.executor = ThreadPoolExecutor(self.workers, thread_name_prefix="babycry-serve")

    def full(self) -> bool:
        return self.in_flight >= self.capacity

    def _release(self, _future) -> None:
        with self._lock:
            self.in_flight -= 1
        self._slots.release()

    async def run(self, fn, *args):
        if not self._slots.acquire(blocking=False):
            raise busy(self)
        with self._lock:
            self.in_flight += 1
        try:
            fut = self.executor.submit(fn, *args)
        except BaseException:
            self._release(None)
            raise
        fut.add_done_callback(self._release)  # the slot frees when the job ends, even if the client left
        return await asyncio.wrap_future(fut)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def busy(pool: Pool) -> Rejected:
    return Rejected(503, {"error": f"The server is busy ({pool.workers} classifying, {pool.queue} waiting); "
                                   "try again in a moment.", "reason": "busy"}, {"Retry-After": "1"})


# ---------------------------------------------------------------- the app

def load(engine: str = "auto", run=None, threads: int | None = None):
    """The model the API answers with: app.answer.answerer (auto: as `predict`, ONNX where the exports are current)."""
    return answerer(run, engine, threads=threads)


def create_app(predictor=None, *, engine: str = "auto", run=None, workers: int = 2, queue: int = 8,
               max_bytes: int = MAX_UPLOAD_BYTES, threads: int | None = None):
    """The FastAPI app. predictor: anything with `predict(bytes, name=...) -> Prediction` (default: loaded once,
    now, for `engine` and `run`). /healthz and /v1/models name the engine that answers ("onnx" or "torch")."""
    if predictor is None:
        predictor = load(engine, run, threads)
    engine = engine_of(predictor)
    pool = Pool(workers, queue)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        pool.shutdown()

    app = FastAPI(title="babycry", version="1", lifespan=lifespan,
                  description="Why is the baby probably crying? The two-step answer (is it a cry? why?) over HTTP. "
                              "Not a medical device.")
    app.state.predictor, app.state.pool, app.state.engine = predictor, pool, engine
    app.state.models_cache = None
    app.add_middleware(NoTraceback)

    def rejected(e: Rejected) -> JSONResponse:
        return JSONResponse(e.body, e.status, headers=e.headers)

    async def upload(request: Request):
        if pool.full():  # before reading the body: a full pool answers at once
            raise busy(pool)
        return await read_upload(request, max_bytes)

    def classify_bytes(data: bytes, name: str) -> dict:
        return predictor.predict(data, name=name).to_dict()

    def audio_error(e: AudioError, name: str) -> JSONResponse:
        return JSONResponse({"file": name, "error": str(e), "reason": e.reason}, STATUS.get(e.reason, 422))

    @app.post("/v1/classify", openapi_extra=UPLOAD_SCHEMA, responses=ERRORS,
              summary="Classify one recording: the JSON object `predict --json` gives for one file")
    async def classify(request: Request):
        name = "upload"
        try:
            data, filename = await upload(request)
            name = safe_name(filename) or "upload"
            return JSONResponse(finite(await pool.run(classify_bytes, data, name)))
        except Rejected as e:
            return rejected(e)
        except AudioError as e:
            return audio_error(e, name)

    @app.post("/v1/detect", openapi_extra=UPLOAD_SCHEMA, responses={**ERRORS, 501: {"description": "not built"}},
              summary="Crying episodes of a longer recording")
    async def detect(request: Request):
        why = detect_unavailable(predictor)
        if why:
            return JSONResponse({"error": f"POST /v1/detect is not available: {why}.", "reason": "not_built"}, 501)
        name = "upload"
        try:
            data, filename = await upload(request)
            name = safe_name(filename) or "upload"
            return JSONResponse(finite(await pool.run(detect_upload, predictor, data, name)))
        except Rejected as e:
            return rejected(e)
        except AudioError as e:
            return audio_error(e, name)

    @app.get("/v1/models", summary="The model registry and the shipped runs with their headline metrics")
    async def models():
        if app.state.models_cache is None:
            app.state.models_cache = await asyncio.get_running_loop().run_in_executor(None, catalog.model_registry)
        return JSONResponse(finite({"models": app.state.models_cache, **catalog.runs_listing(),
                                    "serving": {"run": predictor.run_id, "engine": engine}}))

    @app.get("/healthz", summary="Liveness and the pool's load")
    async def healthz():
        return {"status": "ok", "run": predictor.run_id, "engine": engine, "workers": pool.workers,
                "queue": pool.queue, "in_flight": pool.in_flight}

    return app


def detect_unavailable(predictor) -> str | None:
    """Why /v1/detect cannot answer here, or None."""
    if importlib.util.find_spec("babycry_core.detection.whole_recording") is None:
        return "babycry_core.detection.whole_recording is not built yet"
    if getattr(predictor, "detector", None) is None:
        return "the model being served has no cry detector"
    return None


def serve(host: str = "127.0.0.1", port: int = 8000, *, engine: str = "auto", run=None, workers: int = 2,
          queue: int = 8, max_connections: int = 64) -> None:
    """Load the model once, then serve until interrupted. Each worker gets cores // workers compute threads."""
    import uvicorn

    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    predictor = load(engine, run, threads)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(threads)
    app = create_app(predictor, run=run, workers=workers, queue=queue)
    print(f"babycry API on http://{host}:{port} (docs: /docs), model {predictor.run_id}, engine {engine_of(predictor)}, "
          f"{workers} workers + {queue} waiting", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info", limit_concurrency=max_connections,
                timeout_keep_alive=5)
