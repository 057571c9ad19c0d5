"""The labelled corpus: its data contract, statistics and the frozen train/dev/test split."""
