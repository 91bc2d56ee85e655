"""Comparing Grad-CAM family maps with LIME: agreement, complexity, faithfulness, sanity."""
