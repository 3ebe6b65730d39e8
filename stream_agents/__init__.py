"""The faust app around ``decision_core``: consuming, checkpoints, publishing; merchant risk."""
