"""Quality benchmarks run from the CLI (`ganforge bench ...`)."""
