"""The assignment."""
