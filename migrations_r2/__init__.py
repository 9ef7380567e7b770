"""The legacy media backfill: local MEDIA_ROOT images into the bucket."""
