"""The package version, apart so that no module needs to import the `ganforge` package itself."""

__version__ = "0.1.0"
