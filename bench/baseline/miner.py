"""A natix-style Python miner, the baseline the TypeScript axon is measured against.

What it keeps from the Python path (bittensor 9.12 axon + natix 2.0.4 miner):
- FastAPI behind uvicorn, one Starlette BaseHTTPMiddleware in front of the route, as bittensor's AxonMiddleware:
  headers -> synapse, blacklist (hotkey must be in the allow-list, standing in for the metagraph), verify (nonce
  freshness and per hotkey:uuid monotonicity, exactly as default_verify), then the route;
- the route parses the JSON body into a pydantic ImageSynapse, checks the body hash like verify_body_integrity,
  decodes the base64 JPEG with PIL, preprocesses like the HF image processors (PIL resize + numpy), runs torch, and
  answers like bittensor's synapse_to_response: the whole synapse echoed as JSON with prediction and axon status,
  plus the bt_header_* response headers;
- one request at a time: natix's forward is an async function that calls the model synchronously, so the event
  loop runs one inference at a time.

What it skips: the sr25519 signature check. No sr25519 binding (bittensor-wallet, py-sr25519-bindings,
substrate-interface) can be installed here, so a signature is only required to be present and well formed. This
favours the baseline: the TypeScript axon verifies every signature.

    python miner.py --model-dir DIR --port 8091 --hotkey <axon ss58> --allow <validator ss58>[,...] [--device cuda]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import starlette
import torch
import uvicorn
from PIL import Image
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse

import models

try:  # bittensor's stack. The GPU machine's Python 3.12 has no pydantic-core wheel, so there it runs on Starlette alone.
    import fastapi
    import pydantic
    from fastapi import Depends, FastAPI
    from pydantic import BaseModel
except ImportError:
    fastapi = None

ALLOWED_DELTA_NS = 4_000_000_000
EMPTY_BODY_HASH = hashlib.sha3_256(b"").hexdigest()


if fastapi is not None:

    class TerminalInfo(BaseModel):
        status_code: int | None = None
        status_message: str | None = None
        process_time: float | None = None
        ip: str | None = None
        port: int | None = None
        version: int | None = None
        nonce: int | None = None
        uuid: str | None = None
        hotkey: str | None = None
        signature: str | None = None


    class ImageSynapse(BaseModel):
        name: str = "ImageSynapse"
        timeout: float = 12.0
        total_size: int = 0
        header_size: int = 0
        dendrite: TerminalInfo = TerminalInfo()
        axon: TerminalInfo = TerminalInfo()
        computed_body_hash: str = ""
        testnet_label: int = -1
        image: str = ""
        prediction: float = -1.0


class Detector:
    """Loads the state dict(s) written by export.py and scores a PIL image."""

    def __init__(self, model_dir: Path, device: str):
        spec = json.loads((model_dir / "baseline.json").read_text())
        self.device = torch.device(device)
        members = []
        for member in spec["members"]:
            model = models.Classifier(member["arch"])
            model.load_state_dict(torch.load(model_dir / member["files"]["state_dict"], map_location="cpu"))
            members.append(model.eval())
        self.model = models.Ensemble(members, hflip=spec["hflip"]).to(self.device).eval()
        self.size = spec["image_size"]
        self.mean = np.asarray(spec["mean"], dtype=np.float32).reshape(3, 1, 1)
        self.std = np.asarray(spec["std"], dtype=np.float32).reshape(3, 1, 1)
        self.description = " + ".join(m["description"] for m in spec["members"]) + (" + hflip TTA" if spec["hflip"] else "")

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        # As the HF image processors do: PIL resize (bilinear), rescale to [0,1], normalise, channels first.
        image = image.convert("RGB")
        if image.size != (self.size, self.size):
            image = image.resize((self.size, self.size), Image.BILINEAR)
        array = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0
        array = (array - self.mean) / self.std
        return torch.from_numpy(array).unsqueeze(0)

    @torch.inference_mode()
    def __call__(self, image: Image.Image) -> float:
        pixels = self.preprocess(image).to(self.device)
        return float(self.model(pixels)[0, 0].item())


class AxonError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def terminal_from_headers(headers, prefix: str) -> dict:
    out = {}
    for key, value in headers.items():
        if prefix in key:
            out[key.split(prefix, 1)[1]] = value
    return out


class AxonMiddleware(BaseHTTPMiddleware):
    """bittensor's AxonMiddleware stages: preprocess -> blacklist -> verify -> route, errors as JSON with headers."""

    def __init__(self, app, allow: set[str], nonces: dict[str, int]):
        super().__init__(app)
        self.allow = allow
        self.nonces = nonces

    async def dispatch(self, request: Request, call_next):
        start = time.time()
        try:
            name = request.url.path.split("/")[1]
            if name not in ("ImageSynapse", "Synapse"):
                raise AxonError(404, f"Synapse name '{name}' not found. Available synapses ['Synapse', 'ImageSynapse']")
            dendrite = terminal_from_headers(request.headers, "bt_header_dendrite_")
            try:
                nonce = int(dendrite["nonce"]) if "nonce" in dendrite else None
                version = int(dendrite["version"]) if "version" in dendrite else None
                timeout = float(request.headers.get("timeout", "0") or 0)
            except ValueError:
                raise AxonError(500, f"Internal Server Error #{uuid.uuid4()}")
            hotkey = dendrite.get("hotkey")
            if not hotkey:
                raise AxonError(403, "Forbidden. Key is blacklisted: Missing dendrite or hotkey.")
            if hotkey not in self.allow:
                raise AxonError(403, "Forbidden. Key is blacklisted: Unrecognized hotkey.")
            self.verify(hotkey, dendrite.get("uuid"), nonce, version, timeout, dendrite.get("signature"))
            return await call_next(request)
        except AxonError as error:
            return JSONResponse(
                status_code=error.status,
                content={"message": error.message},
                headers={
                    "bt_header_axon_status_code": str(error.status),
                    "bt_header_axon_status_message": error.message,
                    "bt_header_axon_process_time": str(time.time() - start),
                },
            )

    def verify(self, hotkey: str, dendrite_uuid, nonce, version, timeout: float, signature) -> None:
        def fail(message: str):
            raise AxonError(401, f"Not Verified with error: {message}")

        if nonce is None:
            fail("Missing Nonce")
        key = f"{hotkey}:{dendrite_uuid}"
        if version is not None and version >= 7002000:
            now = time.time_ns()
            window = now - ALLOWED_DELTA_NS - int((timeout or 0) * 1e9)
            if key not in self.nonces and nonce <= window:
                fail("Nonce is too old")
        if key in self.nonces and nonce <= self.nonces[key]:
            fail("Nonce is too old, a newer one was last processed")
        # Signature: format only (no sr25519 binding available here; see the module docstring).
        if signature:
            if not signature.startswith("0x"):
                fail("Invalid signature format. Expected hex string.")
            try:
                if len(bytes.fromhex(signature[2:])) != 64:
                    fail("Invalid signature")
            except ValueError:
                fail("Invalid signature")
        self.nonces[key] = nonce


def http_stack() -> str:
    if fastapi is not None:
        return f"fastapi {fastapi.__version__} + pydantic {pydantic.VERSION} + uvicorn {uvicorn.__version__}"
    return f"starlette {starlette.__version__} + uvicorn {uvicorn.__version__} (no FastAPI/pydantic: lighter than the Python axon)"


SYNAPSE_DEFAULTS = {
    "name": "ImageSynapse",
    "timeout": 12.0,
    "total_size": 0,
    "header_size": 0,
    "dendrite": {},
    "axon": {},
    "computed_body_hash": "",
    "testnet_label": -1,
    "image": "",
    "prediction": -1.0,
}
TERMINAL_FIELDS = ("status_code", "status_message", "process_time", "ip", "port", "version", "nonce", "uuid", "hotkey", "signature")


def answer(detector: Detector, synapse: dict, axon_hotkey: str) -> JSONResponse:
    """natix's forward_image, then bittensor's synapse_to_response: the synapse echoed with prediction and status."""
    start = time.time()
    try:
        image = Image.open(io.BytesIO(base64.b64decode(synapse["image"])))
        synapse["prediction"] = detector(image)
    except Exception as error:  # natix logs and answers -1.0
        print(f"[baseline] forward failed: {error}", file=sys.stderr)
    axon = synapse["axon"]
    axon.update(status_code=200, status_message="Success", process_time=time.time() - start)
    headers = {
        "name": synapse["name"],
        "timeout": str(synapse["timeout"]),
        "bt_header_axon_status_code": "200",
        "bt_header_axon_status_message": "Success",
        "bt_header_axon_process_time": str(axon["process_time"]),
        "bt_header_axon_hotkey": axon_hotkey,
        "computed_body_hash": EMPTY_BODY_HASH,
    }
    for key, value in synapse["dendrite"].items():
        if value is not None:
            headers[f"bt_header_dendrite_{key}"] = str(value)
    return JSONResponse(synapse, headers=headers)


def check_body_hash(request: Request, body) -> None:
    # verify_body_integrity: ImageSynapse hashes no field, so the header must carry sha3_256("").
    if request.headers.get("computed_body_hash") != EMPTY_BODY_HASH or not isinstance(body, dict):
        raise ValueError("Hash mismatch between header body hash and parsed body hash")


def validate_synapse(body: dict) -> dict:
    """Without pydantic: the same defaults and the type checks the route depends on."""
    synapse = {**SYNAPSE_DEFAULTS, **{k: v for k, v in body.items() if k in SYNAPSE_DEFAULTS}}
    if not isinstance(synapse["image"], str):
        raise ValueError("image must be a string")
    for side in ("dendrite", "axon"):
        terminal = synapse[side] if isinstance(synapse[side], dict) else {}
        synapse[side] = {field: terminal.get(field) for field in TERMINAL_FIELDS}
    return synapse


def create_app(detector: Detector, axon_hotkey: str, allow: set[str]):
    if fastapi is not None:
        app = FastAPI()

        async def verify_body_integrity(request: Request):
            body = await request.json()
            check_body_hash(request, body)
            return body

        @app.post("/ImageSynapse")
        async def image_synapse(synapse: ImageSynapse, _body=Depends(verify_body_integrity)):
            return answer(detector, synapse.model_dump(), axon_hotkey)

    else:
        from starlette.applications import Starlette
        from starlette.routing import Route

        async def image_synapse(request: Request):
            body = await request.json()
            check_body_hash(request, body)
            return answer(detector, validate_synapse(body), axon_hotkey)

        app = Starlette(routes=[Route("/ImageSynapse", image_synapse, methods=["POST"])])
    app.add_middleware(AxonMiddleware, allow=allow, nonces={})
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--hotkey", required=True, help="this axon's ss58 hotkey")
    parser.add_argument("--allow", required=True, help="comma-separated validator hotkeys (the metagraph stand-in)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    detector = Detector(Path(args.model_dir), args.device)
    print(
        f"[baseline] {detector.description} on {args.device}, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}, {http_stack()}",
        file=sys.stderr,
    )
    app = create_app(detector, args.hotkey, set(args.allow.split(",")))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
