"""Scoring unpaired translation on held-out images, in each direction.

* where a ground truth exists (a built-in task's hidden pairs, same-named test files): L1, PSNR, SSIM and
  sharpness against it (metrics/paired.py);
* always: KID of the translations against the target domain's real images, beside the KID of the
  untranslated inputs against them (how far apart the domains are to begin with), and the cycle error
  L1(G_back(G(x)), x);
* the doctor's reading: a cycle error near zero while the translations stay as far from the target
  domain as the inputs were, or equal the inputs, is the known CycleGAN failure where G hides its input
  in faint signal that the other G decodes ("steganography", Chu et al. 2017) instead of translating.

KID's features come from the independent digit classifier by default (no download; a CNN trained on
grey digits, so it sees shape and stroke, not colour); `extractor="inception-v3"` gives the standard ones.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from ganforge.data.unpaired import UnpairedDataset, load_unpaired
from ganforge.errors import GanforgeError
from ganforge.images import from_uint8
from ganforge.metrics.paired import l1_error, score_outputs, translate, translate_floats

STEGANOGRAPHY_CYCLE = 0.02  # cycle L1 below this (in [0, 1] pixels) counts as near zero
STEGANOGRAPHY_KID_SHARE = 0.5  # translations keeping more than this share of the inputs' KID have not moved
IDENTITY_DISTANCE = 0.01  # translations within this L1 of their input are the input
STEGANOGRAPHY_REMEDY = ("lower --cycle-weight (e.g. 5) or --identity-weight, train longer so the "
                        "discriminators push harder, or give a few pairs (--paired-weight)")


def _kid(extractor: Any, real: torch.Tensor, fake: torch.Tensor) -> float:
    from ganforge.metrics.features import extract_features
    from ganforge.metrics.kid import kid

    return kid(extract_features(extractor, real).features, extract_features(extractor, fake).features).mean


@torch.no_grad()
def evaluate_direction(G: nn.Module, back: nn.Module, source: torch.Tensor, target: torch.Tensor,
                       truth: torch.Tensor | None, extractor: Any | None) -> dict[str, Any]:
    """One direction's scores: `source` and `target` domain images (uint8 (N, H, W, C)), `truth` the
    source's partners (or None), `extractor` for KID (None: no KID)."""
    out = translate(G, source)
    inputs = from_uint8(source)
    rec = translate_floats(back, out)
    scores: dict[str, Any] = {"images": len(source), "cycle_l1": l1_error(rec, inputs).mean().item()}
    if inputs.shape[1] == out.shape[1]:
        scores["input_l1"] = l1_error(out, inputs).mean().item()  # how much G changes its input
    if truth is not None:
        scores.update(score_outputs(out, truth))
    if extractor is not None:
        real = from_uint8(target)
        scores["kid"] = _kid(extractor, real, out)
        scores["kid_untranslated"] = _kid(extractor, real, inputs)
    return scores


def diagnose(direction: str, scores: dict[str, Any]) -> str | None:
    """The steganography failure in plain words, with a remedy; None when the scores do not show it."""
    cycle = scores["cycle_l1"]
    if cycle >= STEGANOGRAPHY_CYCLE:
        return None
    source, target = direction[0], direction[-1]
    if scores.get("input_l1", 1.0) < IDENTITY_DISTANCE:
        seen = f"its outputs equal its inputs (L1 {scores['input_l1']:.4f})"
    elif "kid" in scores and scores["kid"] > STEGANOGRAPHY_KID_SHARE * scores["kid_untranslated"]:
        seen = (f"its outputs are still far from the {target} images (KID {scores['kid']:.4f}, "
                f"{scores['kid'] / max(scores['kid_untranslated'], 1e-12):.0%} of the untranslated inputs' "
                f"{scores['kid_untranslated']:.4f})")
    else:
        return None
    return (f"{direction}: the cycle error is near zero ({cycle:.4f}) but {seen}: the generator hides the {source} "
            f"image in faint signal that the other one decodes ('steganography') instead of translating it. Try: "
            f"{STEGANOGRAPHY_REMEDY}")


def evaluate_cycle(both: nn.Module, data: UnpairedDataset, extractor: Any | None) -> dict[str, Any]:
    """Both directions of a CycleGAN (`both.AtoB`, `both.BtoA`) on held-out domains; the diagnosis."""
    known = data.partners
    a_truth = b_truth = None
    a_images, b_images = data.images, data.b_images
    if len(known):  # score the images with a partner against it
        a_truth, b_truth = data.b_images[known[:, 1]], data.images[known[:, 0]]
    result: dict[str, Any] = {}
    for direction, G, back, source, target, truth, chosen in (
            ("AtoB", both.AtoB, both.BtoA, a_images, b_images, a_truth, known[:, 0]),
            ("BtoA", both.BtoA, both.AtoB, b_images, a_images, b_truth, known[:, 1])):
        scores = evaluate_direction(G, back, source, target, None, extractor)
        if truth is not None:
            paired = evaluate_direction(G, back, source[chosen], target, truth, None)
            scores.update({k: v for k, v in paired.items() if k not in scores})
            scores["pairs"] = len(chosen)
        result[direction] = scores
    result["diagnosis"] = [note for d in ("AtoB", "BtoA") if (note := diagnose(d, result[d]))]
    return result


def make_extractor(name: str = "digits") -> Any:
    from ganforge.metrics.features import create_extractor

    return create_extractor(name)


def evaluate_unpaired_run(run: str | os.PathLike, data: str | None = None, use_ema: bool = True, device: str = "cpu",
                          extractor: str = "digits") -> dict[str, Any]:
    """Score a CycleGAN run on held-out images of both domains; a GanforgeError if there are none."""
    from ganforge.inference.translate import load_translator

    translator = load_translator(run, use_ema, device)
    cfg = translator.config
    held = load_unpaired(data or cfg["data"], cfg["resolution"], cfg["channels"], "heldout", cfg["aspect"],
                         quiet=True)
    if held is None and data is not None:
        held = load_unpaired(data, cfg["resolution"], cfg["channels"], "train", cfg["aspect"], quiet=True)
    if held is None:
        raise GanforgeError(f"{run}: its data {cfg['data']} has no held-out split (test/A and test/B, or testA/ and "
                            "testB/); pass --data with held-out images")
    result = evaluate_cycle(translator.both, held, make_extractor(extractor))
    result.update(step=translator.step, data=data or cfg["data"], extractor=extractor)
    return result


def format_unpaired(result: dict[str, Any]) -> str:
    """A plain-text table, one row per direction, and the diagnosis lines."""
    lines = [f"{'':<6} {'images':>6} {'L1':>7} {'PSNR dB':>8} {'SSIM':>6} {'KID':>8} {'KID input':>9} {'cycle L1':>9}"]
    for direction in ("AtoB", "BtoA"):
        r = result[direction]
        truth = (f"{r['l1']:7.4f} {r['psnr']:8.2f} {r['ssim']:6.3f}" if "l1" in r else f"{'-':>7} {'-':>8} {'-':>6}")
        kid = f"{r['kid']:8.4f} {r['kid_untranslated']:9.4f}" if "kid" in r else f"{'-':>8} {'-':>9}"
        lines.append(f"{direction:<6} {r['images']:>6} {truth} {kid} {r['cycle_l1']:9.4f}")
    lines += [f"doctor: {note}" for note in result.get("diagnosis", [])]
    return "\n".join(lines)
