"""`tracknet adapt`: fit a ball model to the user's own footage without labels (adapt.py, from pseudo_labels.py and scene_data.py)."""
