"""Figures and PDF reports built from a run folder's own numbers."""
