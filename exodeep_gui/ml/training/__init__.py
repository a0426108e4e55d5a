"""Training and fine-tuning, with what prepares its data: the schedule (``schedule``), targets from
annotations and counter-examples (``targets``), patch sampling (``patches``), the training movies
(``dataset``), event-level validation (``validation``), the run itself (``train``: options,
checkpoint and the named steps of a run) and the window's job around it (``job``). Importing this
package loads no framework; Keras is imported when a run starts."""
