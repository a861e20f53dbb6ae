"""The web UI's FastAPI application: a JSON API under ``/api/`` and the static page that uses it.

Security by default, as Jupyter does it: every ``/api`` route depends on :func:`Guard` (a random token in a
header ``X-Lumos-Token`` / ``Authorization: Bearer`` or the ``token`` query parameter: 401 when missing, 403 when
wrong; a Host header that is not the local machine: 400, against DNS rebinding, unless remote access was allowed);
every response carries a Content-Security-Policy that forbids inline scripts and every remote origin; request
bodies, texts, images and pages are size-limited; a :class:`~lumos.errors.LumosError` becomes a JSON 4xx with its
message. Model work runs on one bounded :class:`~lumos.server.work.WorkQueue` (503 when full); dataset work runs
as background jobs with progress and cancel, their progress streamed to the page as Server-Sent Events.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from ..errors import InvalidArgumentError, LumosError, UnknownNameError
from . import service
from .service import Limits, Models
from .work import Jobs, QueueFull, WorkQueue

__all__ = ["create_app", "CSP", "LOCAL_HOSTS"]

STATIC = Path(__file__).parent / "static"

#: The page may load scripts, styles and data only from its own origin; images also from data: URLs (overlays).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

#: Seconds between two looks at a job's progress while its event stream is open.
_EVENT_INTERVAL = 0.1

#: Host names that reach this machine only.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class Guard:
    """The dependency of every API route: the Host header names this machine (400 otherwise, unless
    ``allow_remote``) and the request carries the token (401 missing, 403 wrong)."""

    def __init__(self, token: str, *, allow_remote: bool = False, hosts: Sequence[str] = ()) -> None:
        self.token = token
        self.allow_remote = allow_remote
        self.hosts = LOCAL_HOSTS | {h.lower() for h in hosts}

    def host_ok(self, request: Request) -> bool:
        if self.allow_remote:
            return True
        host = request.headers.get("host", "").strip().lower()
        if host.startswith("["):  # [::1]:8765
            name = host[1:host.find("]")] if "]" in host else host
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        return name in self.hosts

    def __call__(self, request: Request) -> None:
        if not self.host_ok(request):
            raise _HTTPError(400, f"The Host header {request.headers.get('host', '')!r} does not name this machine "
                                  "(allowed: 127.0.0.1, localhost, ::1); start the server with --allow-remote to serve "
                                  "other names.")
        given = request.headers.get("x-lumos-token")
        if given is None:
            auth = request.headers.get("authorization", "")
            if auth.lower().startswith("bearer "):
                given = auth[7:].strip()
        if given is None:
            given = request.query_params.get("token")
        if not given:
            raise _HTTPError(401, "This API needs the access token printed when the server started (header "
                                  "'X-Lumos-Token', or '?token=').")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise _HTTPError(403, "The access token is wrong.")


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# -- request bodies ------------------------------------------------------------------------------------------
class ExplainRequest(BaseModel):
    model: str | None = Field(None, description="A loaded model's name; default the first.")
    text: str | None = Field(None, description="The text to explain (text models).")
    row: dict[str, Any] | None = Field(None, description="Column -> number (table models).")
    index: int | None = Field(None, description="Instead of text/row: a row of the server's dataset.")
    methods: list[str] = Field(["integrated_gradients"], description="Method names or aliases (GET /api/methods).")
    target: str | int | None = Field(None, description="Class to explain (name or index); default the predicted.")
    contrast: str | int | None = Field(None, description="Foil class: explain target rather than contrast.")


class CompareRequest(BaseModel):
    models: list[str] = Field(..., description="Two loaded models' names.")
    text: str | None = None
    row: dict[str, Any] | None = None
    method: str = "integrated_gradients"
    target: str | int | None = None


class GenerateRequest(BaseModel):
    model: str | None = None
    prompt: str
    methods: list[str] = ["occlusion"]
    max_new_tokens: int = 8


class FeedbackRequest(BaseModel):
    explanation: str = Field(..., description="The 'id' of an explanation this server returned.")
    irrelevant: list[int] = Field([], description="Feature indices marked irrelevant (the explanation's pieces).")
    relevant: list[int] = Field([], description="Feature indices marked relevant.")
    irrelevant_regions: list[int] = Field([], description="On an image: regions (the 'regions' of its explanation) "
                                                          "marked irrelevant; stored as their features.")
    relevant_regions: list[int] = Field([], description="On an image: regions marked relevant.")
    label: str | None = None
    rating: int | None = None
    comment: str | None = None
    author: str | None = None


class JobRequest(BaseModel):
    kind: str = Field("evaluate", description="'evaluate' (predict every row, find error slices) or 'explain' "
                                              "(explain the first n rows).")
    model: str | None = None
    method: str = "occlusion"
    n: int | None = None


class RetrainRequest(BaseModel):
    model: str | None = None
    method: str = "rrr"
    epochs: int = 2
    n: int = 300


def create_app(models: Sequence[Any] | Mapping[str, Any] = ("tweets-sentiment",), *, token: str | None = None,
               data: str | None = None, store: str | Path | None = None, allow_remote: bool = False,
               hosts: Sequence[str] = (), limits: Limits | None = None, max_pending: int = 64) -> FastAPI:
    """The web UI's application.

    Parameters
    ----------
    models : zoo names / model directories / ``NAME@SPEC`` compressed copies, or a mapping of name -> model
        Loaded once, here (see :func:`lumos.server.service.load_models`).
    token : str, optional
        The access token; default a random one (``app.state.token``).
    data : str, optional
        The Data view's dataset (a zoo dataset, or a CSV or Parquet file); default each model's own zoo dataset.
    store : path, optional
        The feedback store (SQLite); default ``$LUMOS_FEEDBACK_STORE`` or the user data directory.
    allow_remote : bool, default False
        Accept any Host header (when serving other machines on purpose); ``hosts`` adds allowed names.
    limits : Limits, optional
        Request size limits.
    max_pending : int, default 64
        Model calls that may wait on the work queue before requests get 503.

    The page uses relative URLs only, so it works under any path prefix; a server behind a proxy that serves it
    under one gets the prefix as its ASGI root path (``uvicorn --root-path``; ``lumos serve --base-url``).
    """
    limits = limits or Limits()
    token = token or secrets.token_urlsafe(24)
    adapters = service.load_models(models)
    state = Models(adapters)
    work = WorkQueue(max_pending=max_pending)
    jobs = Jobs()
    guard = Guard(token, allow_remote=allow_remote, hosts=hosts)
    datasets: dict[str, Any] = {}
    predictions: dict[str, dict[int, np.ndarray]] = {}
    slices: dict[str, list[np.ndarray]] = {}
    stores: dict[str, Any] = {}

    app = FastAPI(title="lumos", description="Explain, diagnose and compare models from a local web page.",
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.token = token
    app.state.models = state
    app.state.work = work
    app.state.jobs = jobs
    app.state.limits = limits

    # -- errors and headers ------------------------------------------------------------------------------
    @app.exception_handler(_HTTPError)
    async def _http_error(request: Request, exc: _HTTPError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(LumosError)
    async def _lumos_error(request: Request, exc: LumosError) -> JSONResponse:
        status = 503 if isinstance(exc, QueueFull) else 404 if isinstance(exc, UnknownNameError) else 400
        return JSONResponse({"error": str(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            parts.append(f"The '{where}' field: {err.get('msg', 'is invalid')}.")
        return JSONResponse({"error": " ".join(parts) or "Invalid request."}, status_code=422)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable) -> Any:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limits.max_body_bytes):
            response = JSONResponse({"error": f"The request body holds at most {limits.max_body_bytes} bytes."},
                                    status_code=413)
        elif request.method in ("POST", "PUT") and length is None and request.headers.get("transfer-encoding"):
            response = JSONResponse({"error": "Send the request body with a Content-Length."}, status_code=411)
        else:
            response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    async def run(fn: Callable[[], Any]) -> Any:
        """Run model work on the queue without blocking the event loop."""
        return await asyncio.wrap_future(work.submit(fn))

    # -- the page ----------------------------------------------------------------------------------------
    def host_only(request: Request) -> None:
        if not guard.host_ok(request):
            raise _HTTPError(400, f"The Host header {request.headers.get('host', '')!r} does not name this machine.")

    files = {p.name: p for p in STATIC.iterdir() if p.is_file()} if STATIC.is_dir() else {}
    types = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}

    @app.get("/", include_in_schema=False, dependencies=[Depends(host_only)])
    def index() -> FileResponse:
        return FileResponse(files["index.html"], media_type="text/html")

    @app.get("/static/{name}", include_in_schema=False, dependencies=[Depends(host_only)])
    def static(name: str) -> FileResponse:
        if name not in files:
            raise UnknownNameError(f"No static file {name!r}.")
        return FileResponse(files[name], media_type=types.get(files[name].suffix, "application/octet-stream"))

    api = APIRouter(prefix="/api", dependencies=[Depends(guard)])

    # -- models and methods --------------------------------------------------------------------------------
    @api.get("/models")
    def list_models() -> dict[str, Any]:
        """The loaded models: name, what each reads, classes, columns, runnable methods, dataset."""
        from ..feedback import default_store_path

        return {"models": state.describe(), "limits": limits.__dict__,
                "store": str(store if store is not None else default_store_path())}

    @api.get("/methods")
    def list_methods() -> dict[str, Any]:
        from ..attribution import method_names

        return {"methods": list(method_names())}

    # -- explain -------------------------------------------------------------------------------------------
    @api.post("/explain")
    async def explain(body: ExplainRequest) -> dict[str, Any]:
        """One text or table row (or a dataset row by ``index``) explained by several methods side by side."""
        adapter = state.get(body.model)
        methods = service.check_methods(body.methods, limits)
        if body.index is not None:
            labelled = _data(adapter)
            if not 0 <= body.index < len(labelled.labels):
                raise InvalidArgumentError(f"The 'index' field must be a row 0..{len(labelled.labels) - 1} of the "
                                           f"data. Got {body.index}.")
            example, reads = service.example_of(adapter, labelled, body.index), service.input_kind(adapter)
        else:
            example, reads = service.prepare_input(adapter, text=body.text, row=body.row, limits=limits)
        return await run(lambda: service.explain_input(state, adapter, example, reads, methods, body.target,
                                                       body.contrast))

    @api.post("/explain/image")
    async def explain_image(image: UploadFile = File(...), model: str | None = Form(None),
                            methods: str = Form("grad_cam"), target: str | None = Form(None)) -> dict[str, Any]:
        """An uploaded image explained by several methods (comma-separated), one overlay each."""
        adapter = state.get(model)
        names = service.check_methods([m.strip() for m in methods.split(",") if m.strip()], limits)
        data = await image.read(limits.max_image_bytes + 1)
        picture = service.read_upload(data, limits)
        example, reads = service.prepare_input(adapter, image=picture, limits=limits)
        return await run(lambda: service.explain_input(state, adapter, example, reads, names, target or None,
                                                       None, image_bytes=data))

    @api.post("/compare")
    async def compare(body: CompareRequest) -> dict[str, Any]:
        """One input through two models with one method: both explanations and their drift."""
        if len(body.models) != 2:
            raise InvalidArgumentError(f"The 'models' field must name two loaded models. Got {len(body.models)}.")
        a, b = state.get(body.models[0]), state.get(body.models[1])
        method = service.check_methods([body.method], limits)[0]
        example, reads = service.prepare_input(a, text=body.text, row=body.row, limits=limits)
        service.prepare_input(b, text=body.text, row=body.row, limits=limits)
        return await run(lambda: service.compare_models(state, a, b, example, reads, method, body.target))

    @api.post("/generate")
    async def generate(body: GenerateRequest) -> dict[str, Any]:
        """A prompt continued, every generated token attributed to its sources, and the logit lens."""
        adapter = state.get(body.model)
        methods = service.check_methods(body.methods, limits)
        if not 1 <= body.max_new_tokens <= limits.max_new_tokens:
            raise InvalidArgumentError(f"The 'max_new_tokens' field must be 1..{limits.max_new_tokens}. Got "
                                       f"{body.max_new_tokens}.")
        if len(body.prompt) > limits.max_text_chars:
            raise InvalidArgumentError(f"The 'prompt' field holds at most {limits.max_text_chars} characters. Got "
                                       f"{len(body.prompt)}.")
        return await run(lambda: service.generate_view(adapter, body.prompt, methods, body.max_new_tokens))

    # -- data ----------------------------------------------------------------------------------------------
    def _data(adapter: Any) -> Any:
        from ..zoo.data import load_labelled

        name = state.name_of(adapter)
        if name not in datasets:
            if adapter.task == "causal_lm" or service.input_kind(adapter) == "images":
                raise InvalidArgumentError(f"The Data view shows texts and tables; {name!r} reads "
                                           f"{'prompts' if adapter.task == 'causal_lm' else 'images'}.")
            source = data or adapter.card.get("dataset")
            if source is None:
                raise InvalidArgumentError(f"The model {name!r} is outside the zoo: start the server with --data (a "
                                           "zoo dataset, or a CSV or Parquet file with a 'label' column) for the Data "
                                           "view.")
            datasets[name] = load_labelled(source, adapter.class_names, split="test", argument="--data")
        return datasets[name]

    @api.get("/data")
    async def data_page(model: str | None = None, offset: int = 0, limit: int = 20, slice: int | None = None,
                        errors: bool = False) -> dict[str, Any]:
        """A page of the dataset with prediction, label, confidence and error flag (predictions are computed for
        the rows shown); ``slice`` keeps the rows of an error slice found by an 'evaluate' job."""
        adapter = state.get(model)
        name = state.name_of(adapter)
        if not 1 <= limit <= limits.max_rows:
            raise InvalidArgumentError(f"The 'limit' parameter must be 1..{limits.max_rows}. Got {limit}.")
        if offset < 0:
            raise InvalidArgumentError(f"The 'offset' parameter must be >= 0. Got {offset}.")
        labelled = await run(lambda: _data(adapter))
        rows = np.arange(len(labelled.labels))
        if slice is not None:
            found = slices.get(name)
            if not found:
                raise InvalidArgumentError("The 'slice' parameter needs the slices of a finished 'evaluate' job.")
            if not 0 <= slice < len(found):
                raise InvalidArgumentError(f"The 'slice' parameter must be 0..{len(found) - 1}. Got {slice}.")
            rows = found[slice]
        cache = predictions.setdefault(name, {})
        if errors:  # among the rows predicted so far (an 'evaluate' job predicts them all)
            rows = np.array([i for i in rows if int(i) in cache
                             and int(np.argmax(cache[int(i)])) != int(labelled.labels[i])], dtype=int)
        chosen = [int(i) for i in rows[offset:offset + limit]]
        todo = [i for i in chosen if i not in cache]
        if todo:
            probs = await run(lambda: adapter.predict_proba([service.example_of(adapter, labelled, i) for i in todo]))
            cache.update({i: p for i, p in zip(todo, probs)})
        return {"name": labelled.name, "kind": labelled.kind, "total": int(len(rows)), "offset": offset,
                "limit": limit, "rows": service.data_page(adapter, labelled, cache, chosen)}

    # -- background jobs -------------------------------------------------------------------------------------
    @api.post("/jobs")
    def start_job(body: JobRequest) -> dict[str, Any]:
        """Start a background job over the dataset: 'evaluate' (predictions, accuracy, error slices) or 'explain'
        (explain the first ``n`` rows with ``method``); follow it at GET /api/jobs/{id}/events (or poll GET
        /api/jobs/{id}), cancel with DELETE."""
        adapter = state.get(body.model)
        name = state.name_of(adapter)
        labelled = _data(adapter)
        n = len(labelled.labels) if body.n is None else body.n
        if not 1 <= n <= len(labelled.labels):
            raise InvalidArgumentError(f"The 'n' field must be 1..{len(labelled.labels)}. Got {n}.")
        chunk = 32
        if body.kind == "evaluate":
            def evaluate(job: Any) -> dict[str, Any]:
                from ..diagnosis import describe_table, describe_texts, find_slices

                cache = predictions.setdefault(name, {})
                for start in range(0, n, chunk):
                    job.check()
                    idx = [i for i in range(start, min(n, start + chunk)) if i not in cache]
                    if idx:
                        probs = work.call(lambda: adapter.predict_proba(
                            [service.example_of(adapter, labelled, i) for i in idx]))
                        cache.update({i: p for i, p in zip(idx, probs)})
                    job.done = min(n, start + chunk)
                probs = np.stack([cache[i] for i in range(n)])
                labels = np.asarray(labelled.labels[:n])
                errors = probs.argmax(1) != labels
                if labelled.kind == "tables":
                    descriptors = describe_table(labelled.inputs.iloc[:n])
                else:
                    descriptors = describe_texts(list(labelled.inputs[:n]), probs, adapter.class_names)
                found = find_slices(descriptors, errors) if errors.any() else []
                # The Data view's slice filter: each slice's rows (indices among the first n rows).
                slices[name] = [np.flatnonzero(s.rows) for s in found]
                return {"n": n, "accuracy": float(1 - errors.mean()), "n_errors": int(errors.sum()),
                        "slices": [s.to_dict() for s in found]}
            return jobs.start("evaluate", n, evaluate).to_dict()
        if body.kind == "explain":
            method = service.check_methods([body.method], limits)[0]

            def explain_rows(job: Any) -> dict[str, Any]:
                m = service.make_method(adapter, method, service.input_kind(adapter), None)
                top: dict[str, list[float]] = {}
                for start in range(0, n, 8):
                    job.check()
                    idx = list(range(start, min(n, start + 8)))
                    explained = work.call(lambda: m.attribute([service.example_of(adapter, labelled, i) for i in idx]))
                    for e in explained:
                        words, values = e.by_word() if e.words is not None else (e.features, e.values)
                        for w, v in zip(words, np.asarray(values).reshape(-1)):
                            top.setdefault(str(w), []).append(abs(float(v)))
                    job.done = idx[-1] + 1
                ranked = sorted(((w, float(np.mean(v)), len(v)) for w, v in top.items()), key=lambda t: -t[1])
                return {"n": n, "method": method,
                        "top": [{"feature": w, "mean_abs": a, "count": c} for w, a, c in ranked if c >= 2][:15]}
            return jobs.start("explain", n, explain_rows).to_dict()
        raise InvalidArgumentError(f"The 'kind' field must be 'evaluate' or 'explain'. Got {body.kind!r}.")

    @api.get("/jobs")
    def list_jobs() -> dict[str, Any]:
        return {"jobs": [j.to_dict() for j in jobs.list()]}

    @api.get("/jobs/{job_id}")
    def get_job(job_id: str) -> dict[str, Any]:
        """A job's progress (``done`` of ``total``), state and, when done, result."""
        return jobs.get(job_id).to_dict()

    @api.get("/jobs/{job_id}/events", response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}}}})
    async def job_events(job_id: str, request: Request) -> StreamingResponse:
        """A job's progress as Server-Sent Events (``text/event-stream``): one ``job`` event (the JSON of GET
        /api/jobs/{id}) each time its progress or state changes; the stream ends after the event of a finished,
        failed or cancelled job. ``EventSource`` sends no headers, so the page gives the token as ``?token=``.
        The stream only reads the job's state on the event loop: it never holds the work queue."""
        job = jobs.get(job_id)

        async def events() -> Any:
            last = None
            while True:
                shown = job.to_dict()
                now = (shown["done"], shown["state"])
                if now != last:
                    last = now
                    payload = json.dumps(service.json_ready(shown), allow_nan=False)
                    yield f"event: job\ndata: {payload}\n\n"
                    if shown["state"] != "running":
                        return
                if await request.is_disconnected():
                    return
                await asyncio.sleep(_EVENT_INTERVAL)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @api.delete("/jobs/{job_id}")
    def cancel_job(job_id: str) -> dict[str, Any]:
        """Ask a job to stop (it stops between chunks; its state becomes 'cancelled')."""
        return jobs.cancel(job_id).to_dict()

    # -- feedback ------------------------------------------------------------------------------------------
    def _store() -> Any:
        from ..feedback import FeedbackStore

        if "store" not in stores:
            stores["store"] = FeedbackStore(store)
        return stores["store"]

    @api.post("/feedback")
    def add_feedback(body: FeedbackRequest) -> dict[str, Any]:
        """Marks (feature indices of an explanation this server returned, or regions of an image explanation), a
        label correction, a rating."""
        s = _store()
        if not (body.irrelevant or body.relevant or body.irrelevant_regions or body.relevant_regions or body.label
                or body.rating is not None or body.comment):
            raise InvalidArgumentError("Nothing to record: give 'irrelevant', 'relevant', 'irrelevant_regions', "
                                       "'relevant_regions', 'label', 'rating' or 'comment'.")
        return service.record_feedback(s, state, body.explanation, irrelevant=body.irrelevant,
                                       relevant=body.relevant, label=body.label, rating=body.rating,
                                       comment=body.comment, author=body.author,
                                       uploads=Path(s.path).parent / "lumos-uploads",
                                       irrelevant_regions=body.irrelevant_regions,
                                       relevant_regions=body.relevant_regions)

    @api.get("/feedback")
    def list_feedback(model: str | None = None, limit: int = 50) -> dict[str, Any]:
        """The store's statistics and its latest records (for one model when ``model`` is given)."""
        s = _store()
        model_id = state.get(model).model_id if model else None
        records = s.list(model_id=model_id)
        shown = []
        for r in records[-max(1, min(limit, 200)):][::-1]:
            d = r.to_dict()
            d.pop("values", None)
            shown.append(d)
        return {"store": str(s.path), "stats": s.stats(model_id=model_id).to_dict(), "records": service.json_ready(shown)}

    @api.post("/retrain")
    def retrain(body: RetrainRequest) -> dict[str, Any]:
        """Retrain a model on the store's feedback as a background job (``lumos.feedback.retrain``); poll it at
        GET /api/jobs/{id}. The retrained model's before/after measures come back as the result."""
        from ..feedback.retrain import annotated_from_store
        from ..feedback.retrain import retrain as run_retrain

        from ..zoo.data import load_labelled

        adapter = state.get(body.model)
        s = _store()
        _data(adapter)  # the same checks as the Data view (texts or tables, a dataset known)
        # Retrain on the training split (the Data view shows the test split); a CSV or Parquet file has no splits.
        labelled = load_labelled(data or adapter.card.get("dataset"), adapter.class_names, split="train",
                                 argument="--data")
        if not 1 <= body.epochs <= 20:
            raise InvalidArgumentError(f"The 'epochs' field must be 1..20. Got {body.epochs}.")
        n = min(max(1, body.n), len(labelled.labels))

        def work_retrain(job: Any) -> dict[str, Any]:
            examples = [service.example_of(adapter, labelled, i) for i in range(n)]
            annotated = annotated_from_store(s, adapter, examples, list(labelled.labels[:n]))
            job.check()
            result = work.call(lambda: run_retrain(adapter, annotated, method=body.method, epochs=body.epochs,
                                                   train="head"))
            job.done = 1
            # The retrained copy is served beside its parent (for Explain and Compare).
            new_name = f"{state.name_of(adapter)}+retrained-{job.id}"
            state.adapters[new_name] = result.adapter
            return service.json_ready({"model": new_name, "card": result.card()})
        return jobs.start("retrain", 1, work_retrain).to_dict()

    app.include_router(api)
    return app
