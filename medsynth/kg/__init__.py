"""The multimodal knowledge graph: importers, image links, paths and vector indexes."""
