"""The window's session, Qt-free: what is open (one :class:`~exodeep_gui.session.record.MovieDoc`
per movie: the one record of a movie and its review), what is shown, selected and filtered
(:class:`~exodeep_gui.session.state.ViewerState`). The science is in ``core``; files in ``io``."""
