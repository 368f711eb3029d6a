"""Adversarial losses, pair (relativistic) losses, penalties and the loss factory: pure functions of logits."""
