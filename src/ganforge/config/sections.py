"""The sections a run's settings are grouped in, and how a setting is spelt as a flag."""

from __future__ import annotations

FLAG_NAMES = {"total_steps": "--steps"}  # fields whose CLI flag is not simply their kebab-case name

# section -> its title in --help and in messages
SECTIONS = {
    "data": "data: what to train on",
    "model": "model: the networks",
    "optimisation": "optimisation: loss, optimisers, batch and the EMA of G",
    "stabilisers": "stabilisers: G/D balance and what D sees (docs/stabilising.md)",
    "schedule": "schedule and outputs: how long to train, how often to log, sample and save",
    "execution": "execution: device, precision, seed and recovery",
    "evaluation": "evaluation during training: score G every --eval-every steps, keep checkpoints/best.pt",
    "pix2pix": "pix2pix (--model pix2pix)",
    "cyclegan": "CycleGAN: unpaired translation, with optional pairs (--model cyclegan)",
    "progressive": "progressive growing (--model progressive)",
    "infogan": "InfoGAN latent categories (unconditional dcgan)",
    "r3gan": "R3GAN's penalties and schedule (--model r3gan)",
    "stylegan": "the style-based generator's mapping and regularisers (--model stylegan)",
}
ALWAYS = ("data", "model", "optimisation", "stabilisers", "schedule", "execution")  # in every run
# the others apply to runs whose model lists them (ModelSpec.sections) and, where named here, whose switch is on
SECTION_SWITCHES = {"evaluation": "eval_every", "infogan": "latent_classes"}


def flag_name(field: str) -> str:
    """The CLI flag of a TrainConfig field: `batch_size` -> `--batch-size`."""
    return FLAG_NAMES.get(field, "--" + field.replace("_", "-"))
