"""`tracknet adapt`: fit a ball model to the user's own footage without labels (adapt.py runs the
stages over pseudo_labels.py and scene_data.py)."""
