"""Someone else's Django project: proof that the toolkit installs into a
project whose image model is not ``gallery.UserImage``."""
