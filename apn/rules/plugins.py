"""Built-in example plugin (see ``docs/rules.md``, "Code plugins").

A plugin is ``plugin(ctx: PluginContext, params: dict) -> list[PluginLine]``. Register third-party ones
under the entry-point group ``apn.rules``; this one is registered by :mod:`apn.rules.registry`.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from apn.rules.registry import PluginLine


def gender_balance(ctx, params: dict) -> list[PluginLine]:
    """A bonus ``amount`` (SEK) for each association whose counted participations of girls and boys are
    both at least ``min_share_percent`` (default 40) of the two together: a 60/40 split or more even."""
    amount_ore = int(Decimal(str(params.get("amount", "0"))) * 100)
    min_share = Decimal(str(params.get("min_share_percent", 40)))
    rows = ctx.rows
    sel = rows["counted"]
    assoc = rows["r_assoc"][sel]
    sex = rows["r_sex"][sel]
    out: list[PluginLine] = []
    for aid in sorted(ctx.associations):
        mine = assoc == aid
        girls = int(np.count_nonzero(mine & (sex == 0)))
        boys = int(np.count_nonzero(mine & (sex == 1)))
        both = girls + boys
        if both == 0 or amount_ore <= 0:
            continue
        if min(girls, boys) * 100 >= min_share * both:
            out.append(PluginLine(
                aid, "gender_balance",
                f"Bonus för jämn könsfördelning ({girls} flickor, {boys} pojkar)",
                f"Bonus for an even gender split ({girls} girls, {boys} boys)", amount_ore))
    return out
