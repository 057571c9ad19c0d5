"""The annotation loop: pick the comments worth labelling, hand them to annotators (Label Studio or a
sheet) with the model's labels pre-filled, and bring the labels back as a corpus chunk."""
