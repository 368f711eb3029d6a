"""Using a trained model: sampling, interpolation, translation, export and the run report."""
