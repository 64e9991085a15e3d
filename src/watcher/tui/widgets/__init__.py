"""Widgets of the main screen and the training screen, one panel or widget per module.

Every widget keeps plain data and a key of what it last drew: `apply(snapshot)` compares the key of
its slice of the snapshot and only then re-renders (4 Hz ticks with nothing new cost a tuple compare).
Tables are drawn line by line (`render_line`) from pre-built Rich `Text`, so a tick never rebuilds a
widget tree or triggers DataTable cell updates.
"""
