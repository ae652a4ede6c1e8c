"""Synthesis: grounded records -> instruction samples (MedKInstruct, PubMedVision, MEDSAGE),
quality checks, provenance, contamination flags, and export."""
