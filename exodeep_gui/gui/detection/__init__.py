"""Detection: model, filter, running it through the job runner."""
