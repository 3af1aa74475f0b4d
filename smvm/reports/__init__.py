"""Human-readable outputs of a run: the markdown report, the PDF with charts and the summary JSON."""
