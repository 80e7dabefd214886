"""Pure functions of the data package, re-exported by ``reglab.functional``."""

from reglab.data.cutmix import cutmix, cutmix_boxes
from reglab.data.cutout import cutout
from reglab.data.label_smoothing import smooth_labels
from reglab.data.mixup import mixup

__all__ = ["cutmix", "cutmix_boxes", "cutout", "mixup", "smooth_labels"]
