import pytest
import torch

from ganforge.data.builtin import digits
from ganforge.data.dataset import ImageDataset
from ganforge.errors import GanforgeError
from ganforge.metrics.data_classifier import train_data_classifier
from ganforge.metrics.features import extract_features, uint8_batches
from ganforge.metrics.kid import kid


def _part(data: ImageDataset, start: int, stop: int) -> ImageDataset:
    return ImageDataset(data.images[start:stop], data.labels[start:stop], data.class_names, name="digits")


@pytest.fixture(scope="module")
def trained():
    data = digits(resolution=16)
    train, heldout = _part(data, 0, 1000), _part(data, 1000, 1400)
    return train_data_classifier(train, heldout, epochs=15, seed=0, width=8), heldout, _part(data, 1400, 1797)


def test_learns_the_categories_of_the_data(trained):
    result, heldout, _ = trained
    assert result.heldout_accuracy > 1 / len(heldout.class_names) + 0.3
    assert result.extractor.has_classifier and result.extractor.name == "data:digits"


def test_its_features_tell_the_data_from_other_pictures(trained):
    result, heldout, other_real = trained
    features = extract_features(result.extractor, uint8_batches(heldout.images)).features
    assert features.shape == (len(heldout), 4 * 8)
    same = extract_features(result.extractor, uint8_batches(other_real.images)).features
    inverted = extract_features(result.extractor, uint8_batches(255 - heldout.images)).features
    assert kid(features, same, subsets=10, subset_size=200).mean < kid(features, inverted, subsets=10,
                                                                       subset_size=200).mean


def test_needs_labels():
    unlabelled = ImageDataset(torch.zeros(4, 8, 8, 3, dtype=torch.uint8), name="blank")
    with pytest.raises(GanforgeError, match="blank: a data classifier needs at least two labelled classes"):
        train_data_classifier(unlabelled)
