"""Data: videos and samples, the synthetic benchmark, the real data sets' layouts, readers and
converters, feature extraction. Imports the core only (for `Sample`)."""
