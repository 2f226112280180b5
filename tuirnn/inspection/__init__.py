"""What a trained model computes over a text: activations, surprise, units that track a feature, gate
statistics, a temperature strip and an n-gram baseline. No textual here: the CLI and the app share it."""
