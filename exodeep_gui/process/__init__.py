"""Running long work in a child process as if it ran here (:mod:`exodeep_gui.process.engine`): the
window's warm detection engine, training, its trial and the before/after comparison. Stdlib only
(+ ``core.progress``)."""
