"""Spreading the paid voice's credits over the cycle, decided before the money is spent.

The free plan's 10,000 credits a month ran out around day 12 with 680-930 character briefings;
the local voice then took over for the rest of the month, announced only then. Instead, every
morning: credits per briefing × briefings left until the credits reset, against the credits
left, and the first level that lasts to the reset:

1. `full`: the configured model, the whole script;
2. `economy`: the same script on the half-price model (`voice.elevenlabs.economy_model_id`,
   Flash/Turbo: 0.5 credits a character);
3. `shorter`: the economy model with the script cut to the characters that last
   (`max_characters`: the least important sentences go first);
4. `local`: the local voice until the reset, when even `min_characters` a day would not last.

So a month degrades early and evenly, and the plan is known (and announced) on the day it
changes, not on the day the credits are gone. The plan is recomputed each day from the
account's own count, so a shorter day leaves credits for a longer one.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass

# ElevenLabs bills these models at half a credit per character (its pricing page: Flash and
# Turbo v2/v2.5); every other model at one credit per character.
HALF_PRICE_MODELS = frozenset({"eleven_flash_v2_5", "eleven_flash_v2", "eleven_turbo_v2_5",
                               "eleven_turbo_v2"})
LEVELS = ("full", "economy", "shorter", "local")


def credits_per_character(model_id: str | None) -> float:
    return 0.5 if model_id in HALF_PRICE_MODELS else 1.0


def credits_for(characters: int, model_id: str | None) -> int:
    return math.ceil(characters * credits_per_character(model_id))


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=calendar.monthrange(day.year, day.month)[1])
            + dt.timedelta(days=1))


def reset_day(reset_unix: int | None, today: dt.date) -> dt.date:
    """When the credits reset: the account's `next_character_count_reset_unix` (UTC), else
    the first of next month."""
    if reset_unix:
        day = dt.datetime.fromtimestamp(reset_unix, dt.UTC).date()
        if day > today:
            return day
    return next_month(today)


@dataclass(frozen=True)
class VoicePlan:
    level: str  # one of LEVELS
    model_id: str | None  # the model to speak with (None: the local voice)
    max_characters: int | None  # the script's cut (None: the whole script)
    briefings_left: int  # today's included
    credits_left: int
    credits_per_briefing: int  # of the level, at today's script length
    reset: dt.date

    @property
    def paid(self) -> bool:
        return self.level != "local"

    def text(self) -> str:
        """The plan in a sentence (announcement, run metadata, `persys voice`)."""
        head = (f"ElevenLabs credit plan until the credits reset on {self.reset}: "
                f"{self.credits_left:,} credits for {self.briefings_left} briefing(s)")
        daily = f"(~{self.credits_per_briefing:,} credits a day)"
        if self.level == "full":
            what = f"the full script on {self.model_id} {daily} lasts"
        elif self.level == "economy":
            what = f"the half-price model {self.model_id} {daily} makes the full script last"
        elif self.level == "shorter":
            what = (f"scripts of at most {self.max_characters or 0:,} characters on "
                    f"{self.model_id} {daily} last")
        else:
            what = ("not even the shortest paid script lasts every day: the local voice "
                    "speaks until the reset")
        return f"{head}; {what}."


def make_plan(credits_left: int, briefings_left: int, characters: int, *, model_id: str,
              economy_model_id: str | None, min_characters: int, reset: dt.date) -> VoicePlan:
    """The first level whose daily spend × `briefings_left` fits `credits_left`."""
    days = max(1, briefings_left)

    def at(level: str, model: str | None, cut: int | None, chars: int) -> VoicePlan:
        return VoicePlan(level, model, cut, days, credits_left,
                         credits_for(chars, model) if model else 0, reset)

    if credits_for(characters, model_id) * days <= credits_left:
        return at("full", model_id, None, characters)
    cheap = economy_model_id if (economy_model_id and credits_per_character(economy_model_id)
                                 < credits_per_character(model_id)) else model_id
    if cheap != model_id and credits_for(characters, cheap) * days <= credits_left:
        return at("economy", cheap, None, characters)
    cut = math.floor(credits_left / days / credits_per_character(cheap))
    if cut >= min_characters:
        cut = min(cut, characters)
        return at("shorter", cheap, cut, cut)
    return at("local", None, None, 0)
