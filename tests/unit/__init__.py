"""Unit tests mirror the code they test: tests/unit/<package>/test_<module>.py for smvm/<package>/<module>.py,
tests/unit/test_<module>.py for a module at smvm/'s top level, tests/unit/api/ and tests/unit/workers/ for the two
processes, and tests/unit/benchmarks/, deploy/ and loadtest/ for those folders. A module tested by behaviour (the
reports' contradictions, say) keeps its package's folder. Integration tests (tests/integration/) are named for what
they prove, since each crosses many modules."""
