"""Artefacts for other tools: ADF, SQL Server and Lakeview files, sample notebooks."""
