"""Themes inside each touchpoint x TERMS (and x Force) cell: what exactly the comments are about."""
