"""The drift checker: probe, judge, report."""
