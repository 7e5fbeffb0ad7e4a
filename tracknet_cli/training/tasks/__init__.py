"""What the trainer needs to know about a task: its data, its loss, how it validates.

    task = HeatmapTask(cfg)             # the task table names the class of each task
    train_set, val_set = task.datasets()
    outputs = model(*task.inputs(batch, device))
    terms = task.losses(outputs, batch, device)        # [(weight, sum, count), ...]
    row = task.validate(model, val_set, device, ...)   # {"val_...": value}, best by task.best_metric

The trainer owns everything else (schedule, precision, accumulation, checkpoints, logging), so a
new task is one module here.
"""
