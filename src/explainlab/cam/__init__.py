"""Grad-CAM family: pytorch-grad-cam runner and exact fast variants."""
