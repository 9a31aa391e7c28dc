"""Where a threshold cuts: each measure's distribution over the stored answers, as SVG.

For every measure a rule cuts at a threshold, two histograms on one axis: above, every stored
answer by its verdict in force (accepted, rejected); below, the answers a person reviewed, by
their verdict. The rules' thresholds are drawn across both, and calibration's suggestion beside
them where it differs, so a reviewer sees which side of the cut their verdicts fall on. Drawn on
the server as plain SVG (no script, no CDN): browse's calibration page inlines it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape

from sqlite_utils import Database

from workbench.review.calibrate import Calibration
from workbench.store.states import Outcome

BINS = 40
WIDTH, HEIGHT = 720, 330
LEFT, RIGHT = 56, 16
LABEL_ROWS, LABEL_HEIGHT = 3, 11  # the band above the histograms where the cuts are named
TOP = 24 + LABEL_ROWS * LABEL_HEIGHT
PANEL = 100  # the height of each histogram
GAP = 34  # between them, for the axis labels
# Colours that stay apart for the common colour blindnesses (Okabe and Ito's palette).
COLOURS = {
    "accepted": "#009E73",
    "rejected": "#D55E00",
    "hand accepted": "#56B4E9",
    "hand rejected": "#E69F00",
}
# Inside the SVG, so that it looks the same inlined in a page and as a file of its own.
STYLE = (
    # A white halo keeps a name readable where a threshold's line crosses it.
    "text{font-family:system-ui,sans-serif;font-size:10px;fill:#333;"
    "paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}"
    ".wb-title{font-size:14px;font-weight:bold}"
    ".wb-axis{stroke:#999}.wb-cut{stroke:#000;stroke-width:1.5}"
)
# The most each measure is drawn over (narrowed to where the answers are); values beyond it
# are counted in the end bins.
SPANS = {
    "length_ratio": (0.0, 3.0),
    "similarity": (0.0, 1.0),
    "repetition": (0.0, 1.0),
    "meaning": (-0.2, 1.0),
}


@dataclass
class Distribution:
    """One measure's histograms and the thresholds that cut it."""

    measure: str
    low: float
    high: float
    answers: dict[str, list[int]]  # verdict in force → count per bin
    reviewed: dict[str, list[int]]  # "hand accepted" / "hand rejected" → count per bin
    thresholds: list[tuple[str, float]] = field(default_factory=list)  # (setting, value)
    suggested: list[tuple[str, float]] = field(default_factory=list)

    @property
    def width(self) -> float:
        return (self.high - self.low) / BINS


def distributions(db: Database, calibration: Calibration) -> list[Distribution]:
    """The measures of the rules calibration holds, binned over every stored answer."""
    found: dict[str, Distribution] = {}
    for rule in calibration.rules:
        if rule.measure not in found:
            low, high = SPANS[rule.measure]
            found[rule.measure] = Distribution(
                rule.measure, low, high,
                {str(o): [0] * BINS for o in (Outcome.ACCEPTED, Outcome.REJECTED)},
                {f"hand {o}": [0] * BINS for o in (Outcome.ACCEPTED, Outcome.REJECTED)},
            )  # fmt: skip
        shown = found[rule.measure]
        shown.thresholds.append((rule.setting, rule.threshold))
        if rule.suggested is not None and rule.suggested != rule.threshold:
            shown.suggested.append((rule.setting, rule.suggested))
    for shown in found.values():
        _frame(db, shown)
        _count(db, shown)
    return list(found.values())


def _frame(db: Database, shown: Distribution) -> None:
    """Draw over where the answers and the cuts are, within the measure's span, in steps of a
    tenth, so the bins are fine where the answers crowd (length ratios near 1)."""
    found = db.execute(
        f"SELECT min({shown.measure}), max({shown.measure}) FROM attempts "
        f"WHERE outcome != 'failed' AND {shown.measure} IS NOT NULL"
    ).fetchone()
    cuts = [value for _, value in shown.thresholds + shown.suggested]
    values = [v for v in (*found, *cuts) if v is not None]
    if not values:
        return
    low, high = SPANS[shown.measure]
    shown.low = max(low, math.floor(min(values) * 10 - 1) / 10)
    shown.high = min(high, math.ceil(max(values) * 10 + 1) / 10)


def _count(db: Database, shown: Distribution) -> None:
    """Bin every validated answer's measure (measure is one of SPANS: a column name)."""
    sql = f"""
        SELECT min(max(CAST((a.{shown.measure} - :low) / :width AS INTEGER), 0), :last) AS bin,
            v.outcome, v.hand_verdict, v.repaired IS NOT NULL, count(*)
        FROM verdicts v JOIN attempts a ON a.id = v.attempt_id
        WHERE v.outcome != 'failed' AND a.{shown.measure} IS NOT NULL
        GROUP BY 1, 2, 3, 4
    """
    params = {"low": shown.low, "width": shown.width, "last": BINS - 1}
    for bin_, outcome, hand, repaired, count in db.execute(sql, params):
        shown.answers[outcome][bin_] += count
        if hand is not None and not repaired:  # calibration leaves repairs out too
            shown.reviewed[f"hand {hand}"][bin_] += count


def svg(shown: Distribution) -> str:
    """The two histograms of one measure, with the thresholds, as an SVG element."""
    plot = WIDTH - LEFT - RIGHT

    def x(value: float) -> float:
        clamped = min(max(value, shown.low), shown.high)
        return LEFT + (clamped - shown.low) / (shown.high - shown.low) * plot

    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="wb-picture" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'aria-label="{escape(_label(shown))}">',
        f"<title>{escape(_label(shown))}</title>",
        f"<style>{STYLE}</style>",
    ]
    parts = [f'<text x="{LEFT}" y="16" class="wb-title">{escape(shown.measure)}</text>']
    for top, counts, title in (
        (TOP, shown.answers, "every stored answer, by verdict in force"),
        (TOP + PANEL + GAP, shown.reviewed, "answers reviewed by hand, by the person's verdict"),
    ):
        parts += _panel(shown, counts, top, title, x)
    cuts = [
        *((s, v, False) for s, v in shown.thresholds),
        *((s, v, True) for s, v in shown.suggested),
    ]
    for row, (setting, value, dashed) in enumerate(sorted(cuts, key=lambda cut: cut[1])):
        parts += _cut(x(value), setting, value, dashed, row % LABEL_ROWS)
    parts += _legend()
    # Words over shapes: a name stays readable where a bar or a threshold's line crosses it.
    shapes = [part for part in parts if not part.startswith("<text")]
    words = [part for part in parts if part.startswith("<text")]
    return "\n".join([*head, *shapes, *words, "</svg>"])


def _label(shown: Distribution) -> str:
    cuts = ", ".join(f"{s} {v:g}" for s, v in shown.thresholds)
    more = ", ".join(f"{s} {v:g}" for s, v in shown.suggested)
    return (
        f"{shown.measure}: {sum(map(sum, shown.answers.values())):,} answers, "
        f"{sum(map(sum, shown.reviewed.values())):,} reviewed by hand; threshold {cuts}"
        + (f"; suggested {more}" if more else "")
    )


def _panel(
    shown: Distribution,
    counts: dict[str, list[int]],
    top: int,
    title: str,
    x: Callable[[float], float],
) -> list[str]:
    """One histogram: stacked bars per bin, its largest count on the axis, its title."""
    totals = [sum(column) for column in zip(*counts.values(), strict=True)]
    most = max(totals) or 1
    bottom = top + PANEL
    parts = [
        f'<text x="{LEFT + 4}" y="{top + 10}" class="wb-panel">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" class="wb-axis"/>',
        f'<text x="{LEFT - 6}" y="{top + 10}" class="wb-tick" text-anchor="end">{most:,}</text>',
        f'<text x="{LEFT - 6}" y="{bottom}" class="wb-tick" text-anchor="end">0</text>',
    ]
    step = shown.width
    for index in range(BINS):
        height_so_far = 0.0
        left, right = x(shown.low + index * step), x(shown.low + (index + 1) * step)
        for name, column in counts.items():
            if not column[index]:
                continue
            height = column[index] / most * (PANEL - 14)
            y = bottom - height_so_far - height
            parts.append(
                f'<rect x="{left + 0.5:.1f}" y="{y:.1f}" width="{max(right - left - 1, 1):.1f}" '
                f'height="{height:.1f}" fill="{COLOURS[name]}">'
                f"<title>{escape(name)}: {column[index]:,} between "
                f"{shown.low + index * step:.3g} and {shown.low + (index + 1) * step:.3g}"
                "</title></rect>"
            )
            height_so_far += height
    for value in _ticks(shown.low, shown.high):
        parts.append(
            f'<text x="{x(value):.1f}" y="{bottom + 13}" class="wb-tick" '
            f'text-anchor="middle">{value:g}</text>'
        )
    return parts


def _ticks(low: float, high: float) -> list[float]:
    step = 0.1 if high - low <= 1.5 else 0.5
    first = math.ceil(low / step)
    return [round(k * step, 2) for k in range(first, math.floor(high / step) + 1)]


def _cut(at: float, setting: str, value: float, dashed: bool, row: int) -> list[str]:
    """A threshold across both histograms, named in its row of the band above them (cuts
    close together take turns in the rows, so their names do not overlap)."""
    bottom = TOP + 2 * PANEL + GAP
    top = 24 + row * LABEL_HEIGHT
    style = ' stroke-dasharray="5 4"' if dashed else ""
    label = f"suggested {setting} {value:g}" if dashed else f"{setting} {value:g}"
    anchor = "end" if at > WIDTH - RIGHT - 120 else "start"
    shift = -3 if anchor == "end" else 3
    return [
        f'<line x1="{at:.1f}" y1="{top + 2}" x2="{at:.1f}" y2="{bottom}" class="wb-cut"{style}/>',
        f'<text x="{at + shift:.1f}" y="{top + 8}" text-anchor="{anchor}">{escape(label)}</text>',
    ]


def _legend() -> list[str]:
    parts, x = [], LEFT
    y = HEIGHT - 14
    for name, colour in COLOURS.items():
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{y}" class="wb-tick">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return parts
