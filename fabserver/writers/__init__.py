"""Machine-file writers from a :class:`~fabserver.toolpath.Toolpath`: G-code dialects and HPGL.

Plugins choose a dialect and fill its machine-specific hooks (header comments,
start and end code from the profile, tool-change messages); the writers format
the moves, a run of moves at a time over whole arrays, and stream them.
"""
