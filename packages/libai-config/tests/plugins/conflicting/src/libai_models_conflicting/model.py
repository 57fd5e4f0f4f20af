"""A second model published as ``tiny_mlp``."""


class OtherMLP:
    def __init__(self, width: int = 16) -> None:
        self.width = width
