"""hfnets benchmarks: each compares an hfnets path with a peer measured in the same run."""
