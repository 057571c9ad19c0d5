"""Rolling tagged comments up per customer-journey touchpoint: the tables (`tables`), the charts
(`charts`), how numbers and names are shown (`display`) and the HTML report (`report`, a Jinja2 template
with its stylesheet in `templates/`)."""
