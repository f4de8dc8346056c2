from study_helpers import shards  # noqa: F401  (fixture)
