"""The training wizard: data, counter-examples, model and schedule, run, result."""
