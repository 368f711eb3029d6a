"""Translate an image with a ganforge pix2pix ONNX export: onnxruntime, numpy and Pillow only (no torch, no ganforge).

    pip install onnxruntime numpy pillow
    python onnx_translate.py edges2digits.onnx sketch.png out.png
"""

import argparse

import numpy as np
import onnxruntime as ort
from PIL import Image

parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("image")
parser.add_argument("out")
args = parser.parse_args()

session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
_, channels, height, width = session.get_inputs()[0].shape  # "input": (batch, C, R, R), the training size
picture = Image.open(args.image).convert("L" if channels == 1 else "RGB").resize((width, height), Image.LANCZOS)
pixels = np.asarray(picture, dtype=np.float32).reshape(height, width, channels)
x = (pixels / 127.5 - 1).transpose(2, 0, 1)[None]  # (1, C, R, R) in [-1, 1]
y = session.run(None, {"input": x})[0][0]  # (C_out, R, R) in [-1, 1]

out = ((y.clip(-1, 1) + 1) * 127.5).round().astype(np.uint8).transpose(1, 2, 0)
Image.fromarray(out[..., 0] if out.shape[-1] == 1 else out).save(args.out)
print(f"wrote {args.out} ({width}x{height})")
