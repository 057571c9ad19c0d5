"""Real customer text from public sets: sources, the annotation sample, our labels, splits, distant labels."""
