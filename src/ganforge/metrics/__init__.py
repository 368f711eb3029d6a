"""Measuring generated images: classifiers, feature extractors and sample-quality scores."""
