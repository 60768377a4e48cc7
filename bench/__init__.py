"""Benchmarks: each module's `main()` prints figures beside a baseline measured in the same run."""
