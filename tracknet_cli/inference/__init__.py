"""Running trained models: predictors, video runners, the ball's trajectory, overlays."""
