"""Defaults that the CLI's options and the modules behind them share.

Standard library only and nothing else in it, so that the CLI can name them in its
option declarations at start-up without importing the image modules (start-up time of
the calculators is a feature).
"""

# Pillow's own decompression-bomb limit: the default --max-pixels.
DEFAULT_MAX_PIXELS = 89_478_485
# zlib level 1: the PNG encoder's speed/size trade-off (see cnncli/png.py).
DEFAULT_COMPRESS_LEVEL = 1
# A batch's output name template (see cnncli.batch.output_name).
DEFAULT_NAME = "{stem}{suffix}.{ext}"
