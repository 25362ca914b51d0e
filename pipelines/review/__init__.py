"""Reviewing a cleanup batch: summaries and filters shared by `msp-recon show`, the review page and its static report."""
