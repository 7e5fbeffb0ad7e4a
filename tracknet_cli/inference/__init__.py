"""Running trained models: video prediction, trajectory post-processing, overlays, attention maps."""
