"""paygate's benchmarks (``make bench``): same-run ratios against baselines, never timed unit tests."""
