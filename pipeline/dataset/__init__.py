"""Labelled data access, shared by training and evaluation: the written corpus (contract, frozen splits,
statistics), our labels on real public text (sources read in place, annotation rounds, splits, distant
labels) and the cleaned frames both layers consume (`frames.load_splits`)."""
