"""Running one prepared run folder: status lifecycle, the task's context, captured streams."""
