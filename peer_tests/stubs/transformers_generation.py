"""Not in the transformers release: hfnets tests generation itself (tests/gpt/test_conformance_gpt.py)."""


class GenerationTesterMixin:
    pass
