"""Not in the transformers release (torch.export checks)."""


class ExportTesterMixin:
    pass
