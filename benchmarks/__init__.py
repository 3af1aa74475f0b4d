"""Benchmarks and the shipped benchmark ideas' helpers."""
