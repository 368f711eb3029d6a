"""Generate images from a ganforge ONNX export with onnxruntime, numpy and Pillow only (no torch, no ganforge).

    pip install onnxruntime numpy pillow
    python onnx_generate.py generator.onnx grid.png --num 16 --seed 0
    python onnx_generate.py conditional.onnx grid.png --num 16 --class 3   # class-conditional exports

An InfoGAN export (latent categories, e.g. the recommended digits) comes with NAME.categories.json: the data's
share of each category. When it is there, the categories are drawn by it, as `ganforge sample` does.
"""

import argparse
import json
import math
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("out")
parser.add_argument("--num", type=int, default=16)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--class", dest="label", type=int, default=0, help="class index, for class-conditional exports")
args = parser.parse_args()

session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
z_input = session.get_inputs()[0]  # named "z", shape (batch, latent_dim); the batch size is free
z = np.random.default_rng(args.seed).standard_normal((args.num, z_input.shape[1])).astype(np.float32)
categories = Path(args.model).with_suffix(".categories.json")
if categories.exists():  # InfoGAN: the argmax of z's first K entries is the category; draw it by the data's shares
    prior = json.loads(categories.read_text())
    classes, shares = prior["latent_classes"], np.array(prior["proportions"], dtype=np.float64)
    k = np.random.default_rng(args.seed).choice(classes, size=args.num, p=shares / shares.sum())
    z[np.arange(args.num), k] = np.abs(z[:, :classes]).max(1) + 1
feed = {z_input.name: z}
if len(session.get_inputs()) == 2:  # class-conditional: a second input "labels", int64 class indices (batch,)
    feed["labels"] = np.full(args.num, args.label, dtype=np.int64)
images = session.run(None, feed)[0]  # (N, C, H, W) floats in [-1, 1]

pixels = ((images.clip(-1, 1) + 1) * 127.5).round().astype(np.uint8).transpose(0, 2, 3, 1)  # (N, H, W, C)
n, h, w, c = pixels.shape
cols = math.ceil(math.sqrt(n))
rows = math.ceil(n / cols)
grid = np.zeros((rows * h, cols * w, c), np.uint8)
for i, picture in enumerate(pixels):
    r, k = divmod(i, cols)
    grid[r * h:(r + 1) * h, k * w:(k + 1) * w] = picture
Image.fromarray(grid[..., 0] if c == 1 else grid).save(args.out)
print(f"wrote {n} images to {args.out}")
