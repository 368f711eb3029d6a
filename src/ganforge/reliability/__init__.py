"""Faults made on purpose, shared by the tests and the long benchmark runs: killed training processes
(`faults`), damaged image files (`fuzz`) and damaged, wrong or hostile files for
the other loaders (`loader_fuzz`). Nothing in the library imports this package."""
