from .discriminator_firstorder import Discriminator, FirstOrderDiscriminator  # noqa: F401
