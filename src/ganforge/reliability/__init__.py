"""Faults made on purpose, shared by the tests and the long benchmark runs: killed training processes
(`faults`) and damaged image files (`fuzz`). Nothing in the library imports this package."""
