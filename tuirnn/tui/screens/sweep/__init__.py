"""The Sweep screen: set a sweep up, check and price it, run it, and read its results.

Split by ownership: each panel is a tab pane that keeps its own state and posts messages up, and the
screen coordinates them (which sweep is shown, by which measure, and the keys). The engine itself belongs
to the app (tuirnn.tui.sweep_runner), which the screen observes.

screen.py   SweepScreen, the coordinator
setup.py    the Setup panel: the form, its checks and cost, timing steps
trials.py   the Trials panel: a table of trials, Enter opens one on the Generate screen
heatmap.py  the Heatmap panel: one measure over two axes, or a line over one
curves.py   the Curves panel: every trial's training loss
samples.py  the Samples panel: the best and the worst trial's latest sample
status.py   the line under the panels: the shown sweep's counts and state
picker.py   the modal that picks a saved sweep to open

Panels never import the screen; the non-UI helpers live in tuirnn.sweeps (axes_text, listing, results,
start).
"""
