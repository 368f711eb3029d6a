"""Make the README's style-transfer strip: content | style | result (| result keeping the content's colours).

Uses two photos that ship with scikit-image (the `test` extra) and runs offline with the random
features unless --features vgg19 is given (then the VGG19 weights must be available).

    python docs/stylize_example.py -o docs/images/stylize-example.png
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from PIL import Image, ImageDraw

from ganforge.style import StyleConfig, stylize

PAIRS = {"chelsea-hubble": ("chelsea", "hubble_deep_field"), "astronaut-ihc": ("astronaut", "immunohistochemistry"),
         "coffee-hubble": ("coffee", "hubble_deep_field")}


def strip(pictures: list[Image.Image], labels: list[str], height: int) -> Image.Image:
    """The pictures side by side at one height, each with a caption underneath."""
    scaled = [p.resize((round(p.width * height / p.height), height), Image.Resampling.LANCZOS) for p in pictures]
    gap, caption = 6, 18
    out = Image.new("RGB", (sum(p.width for p in scaled) + gap * (len(scaled) - 1), height + caption), "white")
    draw, x = ImageDraw.Draw(out), 0
    for picture, label in zip(scaled, labels):
        out.paste(picture, (x, 0))
        draw.text((x + 4, height + 3), label, fill="black")
        x += picture.width + gap
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=Path("docs/images/stylize-example.png"))
    parser.add_argument("--pair", choices=PAIRS, default="chelsea-hubble")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--features", default="random")
    parser.add_argument("--style-strength", type=float, default=1.0)
    parser.add_argument("--no-colour", action="store_true", help="leave out the colour-preserving result")
    args = parser.parse_args()
    from skimage import data

    content, style = (Image.fromarray(getattr(data, name)()) for name in PAIRS[args.pair])
    config = StyleConfig(size=args.size, steps=args.steps, features=args.features, style_strength=args.style_strength)
    started = time.perf_counter()
    result = stylize(content, style, config, progress=True)
    pictures, labels = [content, style, result], ["content", "style", f"result ({args.features} features)"]
    if not args.no_colour:
        config.preserve_colour = True
        pictures.append(stylize(content, style, config, progress=True))
        labels.append("--preserve-colour")
    print(f"stylized in {time.perf_counter() - started:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    strip(pictures, labels, height=160).save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
