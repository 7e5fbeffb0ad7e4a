"""The surfaces the realworld renderer plays on, by the names variation.surfaces weighs.

The broadcast renderer's four (court.SURFACES) are among them, with the colour each wears to;
the others add the hard-court colours, artificial grass and carpet that club and indoor footage
shows. Bounce constants are plausible for each surface; the renderer only needs them to differ.
"""

from __future__ import annotations

from dataclasses import replace

from tracknet_cli.datasets.synthetic.colours import WHITE
from tracknet_cli.datasets.synthetic.court import SURFACES, Surface

_BROADCAST = {surface.name: surface for surface in SURFACES}
CREAM = (215, 222, 228)  # clay lines are tapes that take on the dust

CATALOGUE = {
    "hard-blue": replace(_BROADCAST["hard-blue"], worn=(170, 125, 80)),
    "hard-green": replace(_BROADCAST["hard-green"], worn=(110, 150, 95)),
    "hard-purple": Surface("hard-purple", (120, 62, 98), (88, 108, 62), WHITE, 0.70, 0.76,
                           worn=(140, 95, 125)),
    "hard-red": Surface("hard-red", (55, 62, 150), (70, 112, 64), WHITE, 0.70, 0.76,
                        worn=(85, 95, 160)),
    "hard-grey": Surface("hard-grey", (112, 114, 108), (92, 96, 90), WHITE, 0.70, 0.78,
                         worn=(140, 140, 135)),
    "clay": replace(_BROADCAST["clay"], lines=CREAM, worn=(85, 135, 200)),
    "grass": replace(_BROADCAST["grass"], worn=(80, 125, 140)),
    "artificial-grass": Surface("artificial-grass", (62, 128, 66), (55, 108, 58), (225, 230, 230),
                                0.72, 0.70, worn=(110, 160, 165)),
    "carpet": Surface("carpet", (70, 72, 140), (60, 95, 70), WHITE, 0.78, 0.68,
                      worn=(95, 100, 150)),
}
