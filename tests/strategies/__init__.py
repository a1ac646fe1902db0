"""Reusable Hypothesis strategies."""
