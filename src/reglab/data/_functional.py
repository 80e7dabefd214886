"""Pure functions of the data package, re-exported by ``reglab.functional``."""

from reglab.data.cutmix import cutmix, cutmix_boxes
from reglab.data.cutout import cutout
from reglab.data.input_noise import ddpm_ip_input, gaussian_input_noise
from reglab.data.label_smoothing import smooth_labels
from reglab.data.mixup import mixup

__all__ = ["cutmix", "cutmix_boxes", "cutout", "ddpm_ip_input", "gaussian_input_noise", "mixup",
           "smooth_labels"]
