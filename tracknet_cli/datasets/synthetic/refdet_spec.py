"""What to render for reference-based detection: how many objects, scenes and pixels."""

from __future__ import annotations

from dataclasses import dataclass

from tracknet_cli.datasets.synthetic.variation import whole_number
from tracknet_cli.errors import DataError

MIN_SEARCH_WIDTH, MIN_SEARCH_HEIGHT = 128, 72  # below this the smallest object is a few pixels
MIN_TEMPLATE = 32


@dataclass(frozen=True)
class RefdetSpec:
    objects: int = 8
    frames_per_object: int = 40  # train search images of each object
    val_frames_per_object: int = 10  # val: the same objects, in scenes of their own
    width: int = 1024  # search image size
    height: int = 576
    template_size: int = 256  # templates are square
    absent_share: float = 0.15  # share of each object's search images without the object
    seed: int = 0
    jpeg_quality: int = 90

    def frames(self, split: str) -> int:
        """Search images per object in `split`."""
        return self.frames_per_object if split == "train" else self.val_frames_per_object

    def validate(self) -> None:
        """Raise a DataError naming the first value that cannot be rendered."""
        for name, least in (("objects", 1), ("frames_per_object", 1),
                            ("val_frames_per_object", 0), ("seed", 0)):
            value = getattr(self, name)
            if not whole_number(value) or value < least:
                raise DataError(f"synthetic refdet data: {name} must be a whole number >= {least}, "
                                f"got {value!r}")
        for name, least in (("width", MIN_SEARCH_WIDTH), ("height", MIN_SEARCH_HEIGHT),
                            ("template_size", MIN_TEMPLATE)):
            value = getattr(self, name)
            if not whole_number(value) or value < least:
                raise DataError(f"synthetic refdet data: {name} must be at least {least} pixels, "
                                f"got {value!r}")
        if not isinstance(self.absent_share, (int, float)) or not 0 <= self.absent_share < 1:
            raise DataError(f"synthetic refdet data: absent_share must be in [0, 1), "
                            f"got {self.absent_share!r}")
        if not whole_number(self.jpeg_quality) or not 1 <= self.jpeg_quality <= 100:
            raise DataError(f"synthetic refdet data: jpeg_quality must be 1 to 100, "
                            f"got {self.jpeg_quality!r}")
