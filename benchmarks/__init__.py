"""Side-by-side speed comparisons against the reference libraries (``make bench``)."""
