"""The independent digit classifier that judges generated digits must itself be trustworthy."""

import pytest
import torch

from ganforge.data import load_dataset
from ganforge.images import from_uint8
from ganforge.metrics.digit_classifier import load_digit_classifier, read_digits


@pytest.fixture(scope="module")
def classifier():
    return load_digit_classifier()  # trained once (about 30-60 s), then cached


def test_accurate_on_digits_it_never_saw(classifier):
    assert classifier.heldout_accuracy >= 0.97


def test_reads_real_digits_confidently_and_rejects_non_digits(classifier):
    real = from_uint8(load_dataset("digits", 32, 1).images)
    report = read_digits(classifier.model, real)
    assert report.classes_found == 10 and report.confident_fraction > 0.9
    g = torch.Generator().manual_seed(0)
    junk = torch.cat([torch.full((50, 1, 32, 32), -1.0), torch.rand(50, 1, 32, 32, generator=g) * 2 - 1])
    assert read_digits(classifier.model, junk).confident_fraction < 0.05


def test_one_repeated_digit_finds_one_class(classifier):
    data = load_dataset("digits", 32, 1)
    sevens = from_uint8(data.images[data.labels == 7][:1]).expand(100, -1, -1, -1)
    report = read_digits(classifier.model, sevens)
    assert report.classes_found == 1 and report.class_counts[7] == 100
