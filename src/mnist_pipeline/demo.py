"""A page where a person draws a digit (or uploads an image) and sees the champion's answer.

    make demo                                          http://127.0.0.1:7860
    python -m mnist_pipeline.demo --model mnist-classifier --alias champion --port 7860

The drawing is prepared exactly as `predict --image` prepares an image file (data/images.py: dark ink
on a light background inverted, the digit fitted into 20x20 and centred by its centre of mass in
28x28), then classified by the registered model as `make serve` serves it. The page shows a bar per
class and the 28x28 image the model saw. Each answer is appended to the request log
(MNIST_REQUEST_LOG, default logs/requests.db at the project root), marked as coming from the demo.
"""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path

from .core.cli import run_stage
from .core.errors import PipelineError
from .core.project import project_root
from .tracking import CHAMPION

SHOWN_SIDE = 224  # the 28x28 input drawn 8x larger, pixels kept square


def load_champion(tracking_uri: str, name: str, alias: str):
    """The registered model behind models:/name@alias, and its name for the request log ("name/3")."""
    import mlflow
    from mlflow import MlflowClient

    from .inference import served_model
    from .tracking.registry import find_version
    from .tracking.store import point_mlflow_at

    point_mlflow_at(tracking_uri)  # not mlflow.set_tracking_uri: it would export the URI to later commands
    version = find_version(MlflowClient(tracking_uri, tracking_uri), name, alias).version
    identity = f"{name}/{version}"
    os.environ[served_model.MODEL_ENV] = identity  # read when the model loads
    return mlflow.pyfunc.load_model(f"models:/{name}/{version}"), identity


def build_app(model, identity: str):
    """The Gradio page around a loaded model (a pyfunc: uint8 [N, 28, 28] in, label and probabilities out)."""
    import gradio as gr
    import numpy as np
    from PIL import Image

    from .data.images import ImageError, digit_from_image

    classes = model.unwrap_python_model().classes

    def classify(image):
        if image is None:
            return None, None
        try:
            digit, _ = digit_from_image(image)
        except ImageError:  # an empty canvas, or an image with no digit: nothing to answer yet
            return None, None
        answer = model.predict(digit.numpy()[None])  # the request log records it (source "demo")
        probabilities = answer["probabilities"][0]
        seen = Image.fromarray(digit.numpy()).resize((SHOWN_SIDE, SHOWN_SIDE), Image.NEAREST)
        return {name: float(p) for name, p in zip(classes, probabilities)}, np.asarray(seen)

    def classify_drawing(editor):
        return classify(editor.get("composite") if editor else None)

    with gr.Blocks(title="MNIST digit classifier") as app:
        gr.Markdown(f"## Draw a digit\nModel **{identity}**. Draw with the mouse, or upload a photo or scan "
                    "of one digit: dark ink on light paper is inverted, as MNIST's digits are light on dark.")
        with gr.Row():
            with gr.Column():
                pad = gr.Sketchpad(type="pil", image_mode="RGBA", canvas_size=(280, 280), fixed_canvas=True,
                                   brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"),
                                   label="Draw here", layers=False, transforms=(), elem_id="drawing")
                upload = gr.Image(type="pil", sources=["upload"], label="or upload an image", elem_id="upload")
            with gr.Column():
                answer = gr.Label(num_top_classes=len(classes), label="The model's answer", elem_id="answer")
                seen = gr.Image(label="What the model saw: 28x28, MNIST-style", interactive=False,
                                image_mode="L", elem_id="seen")
        pad.change(classify_drawing, pad, [answer, seen], show_progress="hidden")
        upload.change(classify, upload, [answer, seen], show_progress="hidden")
    return app


def check_port_free(host: str, port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            raise PipelineError(f"port {port} on {host} is in use: stop what holds it, or choose another "
                                f"(make demo DEMO_PORT=..., or --port)") from None


def main() -> None:
    parser = argparse.ArgumentParser(description="A page where a person draws a digit and sees the model's answer.")
    parser.add_argument("--model", default="mnist-classifier", help="registered model name")
    parser.add_argument("--alias", default=CHAMPION, help="its alias (or version number) to serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a local page
    root = project_root()
    os.environ.setdefault("MNIST_REQUEST_LOG", str(root / "logs" / "requests.db"))
    os.environ["MNIST_REQUEST_SOURCE"] = "demo"
    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / 'mlflow.db'}"
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).is_file():
        raise PipelineError(f"{uri}: no MLflow store there (run `make pipeline` first, or set MLFLOW_TRACKING_URI)")
    check_port_free(args.host, args.port)
    model, identity = load_champion(uri, args.model, args.alias)
    print(f"demo of {identity}: http://{args.host}:{args.port}  (requests logged to {os.environ['MNIST_REQUEST_LOG']})")
    build_app(model, identity).launch(server_name=args.host, server_port=args.port, show_error=True, quiet=True)


if __name__ == "__main__":
    run_stage(main)
