"""The HTML report: page layout, evidence tables, escaped markup, the lineage SVG and CSS."""
