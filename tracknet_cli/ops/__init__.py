"""Custom tensor operations: each a portable PyTorch version and, where it pays, a fused kernel."""
