"""The Explore screen: what a run's units compute over a text (see tuirnn.inspection)."""
