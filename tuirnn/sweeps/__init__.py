"""Hyperparameter sweeps: many ordinary runs of the core Trainer over a grid or a sampled space.

definition.py  what a sweep is, its TOML form and the study's presets
validation.py  checks before starting; cost.py  how long it will take
planner.py     Optuna's samplers and pruner choose points and stop poor trials
sweepdir.py    sweep.json, results.csv/json and the trials' run directories
trial.py       one trial inside a worker; worker.py a local worker process
local.py       the default engine; ray_engine.py the same trials on Ray Tune
cli.py         `tuirnn sweep`
start.py       what an interactive setup asks to run; axes_text.py axes as lines of text
listing.py     sweeps on disk as a person picks them; results.py results as heatmap data and speeds
"""
