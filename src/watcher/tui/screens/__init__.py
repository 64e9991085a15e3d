"""Screens of the app, one per module: the main view and the screens over it (item detail, worker
log, help, quit dialog, busy notice, quality gate, training).

Screens never call the RunControl directly: they ask the app (`app.background`) to run the call on
its control thread in an app-scoped worker and get the result back on the event loop, so a screen
closed mid-call cannot break anything (textual #6361).
"""
